import { createHash } from "node:crypto";
import { promises as fs, type ReadStream } from "node:fs";
import path from "node:path";
import { DIGEST_ALGORITHMS, digestOf, type Digest, type DigestAlgorithm } from "../oci/index.js";
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
    const file = await this.openFile(digest);
    return file.createReadStream({ start, end, highWaterMark: READ_BLOCK, autoClose: true });
  }

  /** The blob's file, open for reading (the caller closes it). Rejects with ENOENT when absent. */
  async openFile(digest: Digest): Promise<fs.FileHandle> {
    return fs.open(this.layout.blobFile(digest), "r");
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
  async rehash(digest: Digest): Promise<StoredFile | null> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.layout.blobFile(digest), "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    try {
      const { ino } = await handle.stat();
      const hash = createHash(digest.algorithm);
      let size = 0;
      for await (const chunk of handle.createReadStream({ highWaterMark: READ_BLOCK, autoClose: false })) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      return { actual: digestOf(digest.algorithm, hash.digest("hex")), size, inode: ino };
    } finally {
      await handle.close();
    }
  }

  /**
   * Move a blob's file out of service into quarantine/ (kept for inspection, never served), if
   * the file at its path is still `inode`. Returns whether it moved.
   */
  async quarantine(digest: Digest, inode: number): Promise<boolean> {
    const source = this.layout.blobFile(digest);
    try {
      if ((await fs.stat(source)).ino !== inode) return false;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
    const target = this.layout.quarantineFile(digest);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.rename(source, target);
    if (this.options.fsync) await fsyncDirectory(path.dirname(source));
    return true;
  }

  /**
   * Every file under blobs/, with the digest its path names (null for names that are not a
   * digest). Directory by directory, so memory stays small on a large store.
   */
  async *files(): AsyncGenerator<BlobFileEntry> {
    for (const algorithm of await readdirOrEmpty(this.layout.blobsDir)) {
      const hexLength = DIGEST_ALGORITHMS[algorithm as DigestAlgorithm];
      for (const prefix of await readdirOrEmpty(path.join(this.layout.blobsDir, algorithm))) {
        const dir = path.join(this.layout.blobsDir, algorithm, prefix);
        for (const name of await readdirOrEmpty(dir)) {
          const file = path.join(dir, name);
          let stat;
          try {
            stat = await fs.stat(file);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // removed meanwhile
            throw err;
          }
          if (!stat.isFile()) continue;
          const named = hexLength !== undefined && name.length === hexLength && /^[a-f0-9]+$/.test(name) && name.startsWith(prefix);
          yield { path: file, digest: named ? digestOf(algorithm as DigestAlgorithm, name) : null, size: stat.size, mtimeMs: stat.mtimeMs };
        }
      }
    }
  }
}

export interface StoredFile {
  /** The digest of the bytes actually stored. */
  actual: Digest;
  size: number;
  inode: number;
}

export interface BlobFileEntry {
  path: string;
  digest: Digest | null;
  size: number;
  mtimeMs: number;
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
