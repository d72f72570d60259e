import { promises as fs, type ReadStream } from "node:fs";
import path from "node:path";
import type { Digest } from "../oci/index.js";
import { fsyncDirectory } from "./fsync.js";
import type { StorageLayout } from "./paths.js";

/** 1 MiB reads: with the default 64 KiB, serving a blob costs twice the CPU per byte. */
const READ_BLOCK = 1024 * 1024;

/**
 * The global content-addressed blob store. Knows bytes and digests only; which repository may
 * see a blob is meta/'s business. Files appear here only by an atomic rename of a fully
 * written, fsync'd and verified temp file, so a visible file always matches its name.
 */
export class BlobStore {
  constructor(
    private readonly layout: StorageLayout,
    private readonly options: { fsync: boolean },
  ) {}

  async init(): Promise<void> {
    await fs.mkdir(this.layout.blobsDir, { recursive: true });
  }

  /** Size of the stored file, or null when it is absent. */
  async stat(digest: Digest): Promise<number | null> {
    try {
      return (await fs.stat(this.layout.blobFile(digest))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  }

  /** Open a byte range [start, end] (inclusive) for streaming. Rejects with ENOENT when absent. */
  async open(digest: Digest, start: number, end: number): Promise<ReadStream> {
    // Open first so that a missing file is an error here, before any response header is sent.
    const file = await fs.open(this.layout.blobFile(digest), "r");
    return file.createReadStream({ start, end, highWaterMark: READ_BLOCK, autoClose: true });
  }

  /**
   * Move a verified, fsync'd file into place under its digest. Identical content may already be
   * there (a concurrent push of the same blob): rename atomically replaces it with equal bytes.
   */
  async adopt(sourceFile: string, digest: Digest): Promise<void> {
    const target = this.layout.blobFile(digest);
    const dir = path.dirname(target);
    await fs.mkdir(dir, { recursive: true });
    await fs.rename(sourceFile, target);
    if (this.options.fsync) await fsyncDirectory(dir);
  }

  async remove(digest: Digest): Promise<void> {
    await fs.rm(this.layout.blobFile(digest), { force: true });
  }
}
