import { createHash, type Hash } from "node:crypto";
import { constants as fsConstants, createReadStream, promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { RegistryError, digestOf, type Digest } from "../../oci/index.js";
import type { AppendOptions } from "../blob-storage.js";
import { isStorageFull } from "../capacity.js";
import { fileSizeOrNull } from "./absent.js";
import type { BlobFiles } from "./blob-files.js";
import type { VolumeCapacity } from "./volume-capacity.js";
import { DIRECT_ALIGNMENT, UPLOAD_BLOCKS } from "./aligned-blocks.js";
import { writeHashed, LimitExceededError, type DirectTarget } from "./chunked-writer.js";
import type { StorageLayout } from "./paths.js";

interface HashState {
  /** sha256 of the first `offset` bytes of the upload file. */
  hash: Hash;
  offset: number;
}

export interface UploadFilesOptions {
  fsync: boolean;
  /** Write upload blocks with O_DIRECT where the filesystem allows it (see aligned-blocks.ts). */
  directIo: boolean;
}

/**
 * Bytes of upload sessions. Each session is one temp file; bytes are hashed while they stream
 * in, so committing needs no second pass over a multi-GiB file. The running sha256 state lives
 * in memory; after a restart it is rebuilt once from the file (Node cannot serialise it). A cache
 * only, so correct in any process (registry/single-process.ts lists what is process-local).
 */
export class UploadFiles {
  private readonly hashes = new Map<string, HashState>();
  /** Whether uploads are written with O_DIRECT: asked for, and the volume takes it. */
  private direct: boolean;
  /** Why direct writes are off although configured on (shown at start-up). */
  directRefusal: string | undefined;

  constructor(
    private readonly layout: StorageLayout,
    private readonly blobs: BlobFiles,
    private readonly options: UploadFilesOptions,
    private readonly capacity: VolumeCapacity,
  ) {
    this.direct = options.directIo;
  }

  async init(): Promise<void> {
    await fs.mkdir(this.layout.uploadsDir, { recursive: true });
    if (this.direct) await this.probeDirectWrites();
  }

  /** Whether upload bytes bypass the page cache (false if off, or the volume refused it). */
  get directWrites(): boolean {
    return this.direct;
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
    const direct = await this.openDirect(file);
    try {
      const { bytes } = await writeHashed(source, handle, offset, hash, {
        direct,
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
      await direct?.file.close();
      await handle.close();
    }
  }

  /**
   * Verify that the first `size` bytes hash to `digest`, then move them into the blob store.
   * A mismatch throws DIGEST_INVALID and leaves no blob behind.
   */
  async commit(uploadId: string, size: number, digest: Digest): Promise<{ digest: Digest; size: number }> {
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
    return { digest, size };
  }

  async remove(uploadId: string): Promise<void> {
    this.hashes.delete(uploadId);
    await fs.rm(this.layout.uploadFile(uploadId), { force: true });
  }

  /** Remove every file of the uploads folder `keep` rejects: sessions gone, and crash leftovers. */
  async prune(keep: (name: string) => boolean): Promise<number> {
    let removed = 0;
    for (const name of await fs.readdir(this.layout.uploadsDir)) {
      if (keep(name)) continue;
      this.hashes.delete(name);
      await fs.rm(path.join(this.layout.uploadsDir, path.basename(name)), { force: true, recursive: true });
      removed++;
    }
    return removed;
  }

  /** Bytes currently in the upload file (may exceed the committed size after a crash). */
  fileSize(uploadId: string): Promise<number | null> {
    return fileSizeOrNull(this.layout.uploadFile(uploadId));
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

  /** A second handle on `file` with O_DIRECT, or undefined when direct writes are off. */
  private async openDirect(file: string): Promise<DirectTarget | undefined> {
    if (!this.direct) return undefined;
    let handle: FileHandle;
    try {
      handle = await fs.open(file, fsConstants.O_WRONLY | fsConstants.O_DIRECT);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw err;
      this.refuseDirect(err);
      return undefined;
    }
    return { file: handle, onRefused: (err) => this.refuseDirect(err) };
  }

  private refuseDirect(err: unknown): void {
    this.direct = false;
    this.directRefusal ??= err instanceof Error ? err.message : String(err);
  }

  /**
   * Some filesystems refuse O_DIRECT at open, others only at the first write: try both once, at
   * start-up, on a scratch file in the uploads folder (the volume blobs are written to).
   */
  private async probeDirectWrites(): Promise<void> {
    const probe = path.join(this.layout.uploadsDir, `.direct-probe-${process.pid}`);
    const block = UPLOAD_BLOCKS.take();
    if (!UPLOAD_BLOCKS.isAligned(block)) {
      UPLOAD_BLOCKS.give(block);
      this.refuseDirect(new Error("no page-aligned memory for O_DIRECT (could not reserve the block arena: an address-space limit?)"));
      return;
    }
    try {
      const handle = await fs.open(probe, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_DIRECT);
      try {
        await handle.write(block, 0, DIRECT_ALIGNMENT, 0);
      } finally {
        await handle.close();
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Anything else (a full volume, say) is not the filesystem's answer to O_DIRECT; a refusal
      // met later, at a real write, still turns direct writes off then.
      if (code === "EINVAL" || code === "EOPNOTSUPP") this.refuseDirect(err);
    } finally {
      UPLOAD_BLOCKS.give(block);
      await fs.rm(probe, { force: true });
    }
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
