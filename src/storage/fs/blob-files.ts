import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { DIGEST_ALGORITHMS, digestOf, type Digest, type DigestAlgorithm } from "../../oci/index.js";
import type { BlobCheck, StoredBlob } from "../blob-storage.js";
import { FileRangeReader } from "./file-range-reader.js";
import { fileSizeOrNull, unlessAbsent } from "./absent.js";
import { fsyncDirectory } from "./fsync.js";
import type { StorageLayout } from "./paths.js";

/** 1 MiB reads: with the default 64 KiB, serving a blob costs twice the CPU per byte. */
const READ_BLOCK = 1024 * 1024;

/**
 * The global content-addressed blob store. Knows bytes and digests only; which repository may
 * see a blob is meta/'s business. Files appear here only by an atomic rename of a fully
 * written, fsync'd and verified temp file, so a visible file always matches its name.
 */
export class BlobFiles {
  constructor(
    private readonly layout: StorageLayout,
    private readonly options: { fsync: boolean },
  ) {}

  async init(): Promise<void> {
    await fs.mkdir(this.layout.blobsDir, { recursive: true });
  }

  /** Size of the stored file, or null when it is absent. */
  stat(digest: Digest): Promise<number | null> {
    return fileSizeOrNull(this.layout.blobFile(digest));
  }

  /** A byte range [start, end] (inclusive), opened now (so absence is known before any answer), or null when absent. */
  async read(digest: Digest, start: number, end: number): Promise<FileRangeReader | null> {
    const file = await this.openIfPresent(digest);
    return file && new FileRangeReader(file, start, end);
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

  /**
   * Re-read a stored blob and hash it. Returns what the bytes really are (digest, size) and the
   * file's inode, so a later quarantine can make sure it moves the very file it judged; null
   * when the file is absent.
   */
  async rehash(digest: Digest): Promise<BlobCheck | null> {
    const handle = await this.openIfPresent(digest);
    if (!handle) return null;
    try {
      const { ino } = await handle.stat();
      const hash = createHash(digest.algorithm);
      let size = 0;
      for await (const chunk of handle.createReadStream({ highWaterMark: READ_BLOCK, autoClose: false })) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      return { actual: digestOf(digest.algorithm, hash.digest("hex")), size, version: String(ino) };
    } finally {
      await handle.close();
    }
  }

  /**
   * Move a blob's file out of service into quarantine/ (kept for inspection, never served), if
   * the file at its path is still the one `check` judged (same inode). Returns whether it moved.
   */
  async quarantine(digest: Digest, check: BlobCheck): Promise<boolean> {
    const source = this.layout.blobFile(digest);
    const current = await unlessAbsent(fs.stat(source));
    if (current === null || String(current.ino) !== check.version) return false;
    const target = this.layout.quarantineFile(digest);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.rename(source, target);
    if (this.options.fsync) await fsyncDirectory(path.dirname(source));
    return true;
  }

  private openIfPresent(digest: Digest): Promise<FileHandle | null> {
    return unlessAbsent(fs.open(this.layout.blobFile(digest), "r"));
  }

  /**
   * Every digest-named file under blobs/. Directory by directory, so memory stays small on a
   * large store.
   */
  async *files(): AsyncGenerator<StoredBlob> {
    for (const algorithm of await readdirOrEmpty(this.layout.blobsDir)) {
      const hexLength = DIGEST_ALGORITHMS[algorithm as DigestAlgorithm];
      for (const prefix of await readdirOrEmpty(path.join(this.layout.blobsDir, algorithm))) {
        const dir = path.join(this.layout.blobsDir, algorithm, prefix);
        for (const name of await readdirOrEmpty(dir)) {
          const file = path.join(dir, name);
          const stat = await unlessAbsent(fs.stat(file));
          if (stat === null || !stat.isFile()) continue; // removed meanwhile, or not a file
          // Files whose names are not digests are not blobs (someone's leftovers): never touched.
          const named = hexLength !== undefined && name.length === hexLength && /^[a-f0-9]+$/.test(name) && name.startsWith(prefix);
          if (named) yield { digest: digestOf(algorithm as DigestAlgorithm, name), size: stat.size, modifiedAt: stat.mtimeMs };
        }
      }
    }
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw err;
  }
}
