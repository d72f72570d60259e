import { createHash, type Hash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import path from "node:path";
import { RegistryError, digestOf, type Digest } from "../oci/index.js";
import type { BlobStore } from "./blob-store.js";
import { isStorageFull, type VolumeCapacity } from "./capacity.js";
import { writeHashed, LimitExceededError } from "./chunked-writer.js";
import type { StorageLayout } from "./paths.js";

interface HashState {
  /** sha256 of the first `offset` bytes of the upload file. */
  hash: Hash;
  offset: number;
}

export interface AppendOptions {
  /** The exact number of bytes the client declared; more or fewer is refused and rolled back. */
  length?: number;
}

/**
 * Bytes of upload sessions. Each session is one temp file; bytes are hashed while they stream
 * in, so committing needs no second pass over a multi-GiB file. The running sha256 state lives
 * in memory; after a restart it is rebuilt once from the file (Node cannot serialise it).
 */
export class UploadFiles {
  private readonly hashes = new Map<string, HashState>();

  constructor(
    private readonly layout: StorageLayout,
    private readonly blobs: BlobStore,
    private readonly options: { fsync: boolean },
    private readonly capacity: VolumeCapacity,
  ) {}

  async init(): Promise<void> {
    await fs.mkdir(this.layout.uploadsDir, { recursive: true });
  }

  async create(uploadId: string): Promise<void> {
    // A full volume refuses new sessions at once rather than after the client sent bytes.
    await this.capacity.ensureRoom(0, { live: true });
    const handle = await fs.open(this.layout.uploadFile(uploadId), "wx");
    await handle.close();
    this.hashes.set(uploadId, { hash: createHash("sha256"), offset: 0 });
  }

  /**
   * Append `source` at `offset` (the session's committed size). On any failure the file is cut
   * back to `offset` and the hash state is left as it was, so the session stays resumable.
   * Returns the new committed size, durable on disk when this resolves.
   */
  async append(uploadId: string, offset: number, source: AsyncIterable<Buffer | string>, opts: AppendOptions = {}): Promise<number> {
    const file = this.layout.uploadFile(uploadId);
    // A declared size that cannot fit is refused before a byte is read.
    if (opts.length !== undefined) await this.capacity.ensureRoom(opts.length, { live: true, declared: true });
    const state = await this.hashStateAt(uploadId, offset);
    const hash = state.hash.copy();
    const handle = await fs.open(file, "r+");
    try {
      const { bytes } = await writeHashed(source, handle, offset, hash, {
        limit: opts.length,
        // The reserve is checked for every block, so an undeclared stream stops in time too.
        beforeBlock: async (blockBytes) => {
          await this.capacity.ensureRoom(blockBytes);
          this.capacity.noteWritten(blockBytes);
        },
      });
      if (opts.length !== undefined && bytes !== opts.length) {
        throw new RegistryError("SIZE_INVALID", `declared ${opts.length} bytes but ${bytes} arrived`, {
          detail: { declared: opts.length, received: bytes },
        });
      }
      if (this.options.fsync) await handle.sync();
      this.hashes.set(uploadId, { hash, offset: offset + bytes });
      return offset + bytes;
    } catch (err) {
      await handle.truncate(offset).catch(() => undefined);
      if (err instanceof LimitExceededError) {
        throw new RegistryError("SIZE_INVALID", err.message, { detail: { limit: err.limit } });
      }
      // The kernel ran out of space despite the reserve (another writer on the volume).
      if (isStorageFull(err) && !(err instanceof RegistryError)) throw await this.capacity.fullError();
      throw err;
    } finally {
      await handle.close();
    }
  }

  /**
   * Verify that the first `size` bytes hash to `digest`, then move them into the blob store.
   * A mismatch throws DIGEST_INVALID and leaves no blob behind.
   */
  async commit(uploadId: string, size: number, digest: Digest): Promise<void> {
    const file = this.layout.uploadFile(uploadId);
    const actual = await this.digestOf(uploadId, size, digest.algorithm);
    if (actual.value !== digest.value) {
      throw new RegistryError("DIGEST_INVALID", "provided digest did not match uploaded content", {
        detail: { expected: digest.value, actual: actual.value },
      });
    }
    // A crash mid-append can leave bytes past the committed size; they are not part of the blob.
    if ((await fs.stat(file)).size !== size) {
      const handle = await fs.open(file, "r+");
      try {
        await handle.truncate(size);
        if (this.options.fsync) await handle.sync();
      } finally {
        await handle.close();
      }
    }
    await this.blobs.adopt(file, digest);
    this.hashes.delete(uploadId);
  }

  async remove(uploadId: string): Promise<void> {
    this.hashes.delete(uploadId);
    await fs.rm(this.layout.uploadFile(uploadId), { force: true });
  }

  /** Remove a stray file in the uploads folder by its name (crash leftovers, not sessions). */
  async removeFile(name: string): Promise<void> {
    await fs.rm(path.join(this.layout.uploadsDir, path.basename(name)), { force: true, recursive: true });
  }

  /** Bytes currently in the upload file (may exceed the committed size after a crash). */
  async fileSize(uploadId: string): Promise<number | null> {
    try {
      return (await fs.stat(this.layout.uploadFile(uploadId))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  }

  async listFiles(): Promise<string[]> {
    return fs.readdir(this.layout.uploadsDir);
  }

  private async digestOf(uploadId: string, size: number, algorithm: Digest["algorithm"]): Promise<Digest> {
    const state = this.hashes.get(uploadId);
    if (algorithm === "sha256" && state && state.offset === size) {
      return digestOf("sha256", state.hash.copy().digest("hex"));
    }
    // sha512 (rare) or a session resumed after restart: one pass over the file.
    const hash = await hashFilePrefix(this.layout.uploadFile(uploadId), size, algorithm);
    return digestOf(algorithm, hash.digest("hex"));
  }

  private async hashStateAt(uploadId: string, offset: number): Promise<HashState> {
    const known = this.hashes.get(uploadId);
    if (known && known.offset === offset) return known;
    // Restarted, or a crash left bytes past the committed offset: trust only the first `offset`.
    const file = this.layout.uploadFile(uploadId);
    await fs.truncate(file, offset);
    const state = { hash: await hashFilePrefix(file, offset, "sha256"), offset };
    this.hashes.set(uploadId, state);
    return state;
  }
}

async function hashFilePrefix(file: string, length: number, algorithm: string): Promise<Hash> {
  const hash = createHash(algorithm);
  if (length === 0) return hash;
  for await (const chunk of createReadStream(file, { start: 0, end: length - 1, highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
  }
  return hash;
}
