import { randomUUID } from "node:crypto";
import { RegistryError, type Digest } from "../oci/index.js";
import type { Metadata, UploadRecord } from "../meta/index.js";
import { isStorageFull, type BlobClaims, type UploadFiles } from "../storage/index.js";
import type { BlobInfo } from "./blobs.js";

export type ByteSource = AsyncIterable<Buffer | string>;

/** A chunk as the client declared it: its first byte offset and, if known, its length. */
export interface ChunkDeclaration {
  start?: number;
  /** Exact number of bytes the client says it sends (Content-Range span or Content-Length). */
  length?: number;
}

/**
 * Upload sessions (spec "Pushing blobs"): POST opens one, PATCH appends chunks in order, PUT
 * closes it with the digest. A session is a DB row plus a temp file; its committed size only
 * moves forward after the bytes are fsync'd, so a restart resumes from a true offset.
 */
export class UploadService {
  /** Sessions with a request streaming into them; a second concurrent writer is refused. */
  private readonly busy = new Set<string>();

  constructor(
    private readonly meta: Metadata,
    private readonly files: UploadFiles,
    private readonly claims: BlobClaims,
  ) {}

  /** How upload bytes reach the disk: O_DIRECT, or the page cache and why. */
  get writePath(): { direct: boolean; refusal?: string } {
    return { direct: this.files.directWrites, refusal: this.files.directRefusal };
  }

  async start(repository: string): Promise<UploadRecord> {
    const id = randomUUID();
    await this.files.create(id);
    return await this.meta.uploads.create(id, repository);
  }

  async status(repository: string, uploadId: string): Promise<UploadRecord> {
    const upload = await this.meta.uploads.get(uploadId);
    if (!upload || upload.repository !== repository) {
      throw new RegistryError("BLOB_UPLOAD_UNKNOWN", undefined, { detail: { uploadId } });
    }
    return upload;
  }

  /** Append one chunk. Out-of-order chunks are refused with 416, as the spec requires. */
  async append(repository: string, uploadId: string, body: ByteSource, chunk: ChunkDeclaration): Promise<UploadRecord> {
    return this.exclusive(repository, uploadId, async (upload) => {
      await this.appendChunk(upload, body, chunk);
      return upload;
    });
  }

  /**
   * Close the session: append the optional last chunk, verify the digest, move the bytes into
   * the blob store and only then commit the blob row and the repository link. A crash before
   * the commit leaves at worst an unreferenced file that garbage collection removes.
   *
   * From the rename to the commit the digest is claimed (BlobClaims): GC never deletes a row or
   * file of a claimed digest, and a claim waits until a removal that already started has
   * unlinked the old file, so a blob re-pushed while GC collects it ends up stored. The commit
   * restarts the blob's grace clock: its manifest is on the way.
   */
  async complete(repository: string, uploadId: string, digest: Digest, body: ByteSource | null, chunk: ChunkDeclaration): Promise<BlobInfo> {
    return this.exclusive(repository, uploadId, async (upload) => {
      if (body) await this.appendChunk(upload, body, chunk);
      const release = await this.claims.claim(digest.value);
      try {
        try {
          await this.files.commit(upload.id, upload.size, digest);
        } catch (err) {
          // A wrong digest ends the session (as distribution does): nothing of it is kept.
          if (err instanceof RegistryError) await this.discard(upload.id);
          throw err;
        }
        await this.meta.blobs.commitUpload(upload.id, repository, digest.value, upload.size);
      } finally {
        release();
      }
      return { digest, size: upload.size };
    });
  }

  /**
   * Purge a session nobody has written to since `idleBefore` (GC's upload TTL). A session with a
   * request streaming into it is never purged. Returns the bytes its file held, or null when
   * it was kept.
   */
  async purgeIfIdle(uploadId: string, idleBefore: number): Promise<number | null> {
    const upload = await this.meta.uploads.get(uploadId);
    // Checked and taken in one tick: a request marks its session busy before it reads it.
    if (!upload || upload.updatedAt > idleBefore || this.busy.has(uploadId)) return null;
    this.busy.add(uploadId);
    try {
      await this.meta.uploads.delete(uploadId);
      const bytes = (await this.files.fileSize(uploadId)) ?? 0;
      await this.files.remove(uploadId);
      return bytes;
    } finally {
      this.busy.delete(uploadId);
    }
  }

  /**
   * Reconcile sessions with their files after a restart: a row whose file vanished is dropped,
   * a temp file without a row (a crash between create and insert, or after commit) is deleted.
   */
  async recover(): Promise<{ dropped: number; removedFiles: number }> {
    let dropped = 0;
    let removedFiles = 0;
    const known = new Set<string>();
    for (const upload of await this.meta.uploads.list()) {
      if ((await this.files.fileSize(upload.id)) === null) {
        await this.meta.uploads.delete(upload.id);
        dropped++;
      } else {
        known.add(upload.id);
      }
    }
    for (const name of await this.files.listFiles()) {
      if (known.has(name)) continue;
      await this.files.removeFile(name);
      removedFiles++;
    }
    return { dropped, removedFiles };
  }

  async cancel(repository: string, uploadId: string): Promise<void> {
    await this.exclusive(repository, uploadId, (upload) => this.discard(upload.id));
  }

  /** One-request push (`POST ?digest=` with the whole blob as body). */
  async pushMonolithic(repository: string, digest: Digest, body: ByteSource, length: number | undefined): Promise<BlobInfo> {
    const upload = await this.start(repository);
    try {
      return await this.complete(repository, upload.id, digest, body, { start: 0, length });
    } catch (err) {
      await this.discard(upload.id).catch(() => undefined);
      throw err;
    }
  }

  private async appendChunk(upload: UploadRecord, body: ByteSource, chunk: ChunkDeclaration): Promise<void> {
    if (chunk.start !== undefined && chunk.start !== upload.size) {
      throw new RegistryError("BLOB_UPLOAD_INVALID", `chunk starts at ${chunk.start}, upload has ${upload.size} bytes`, {
        status: 416,
        detail: { expectedStart: upload.size, start: chunk.start },
        headers: rangeHeaders(upload),
      });
    }
    // A body longer or shorter than declared is rolled back: it never becomes part of the blob.
    let size: number;
    try {
      size = await this.files.append(upload.id, upload.size, body, { length: chunk.length });
    } catch (err) {
      // Out of space: give back everything the session holds; the client starts over (507).
      if (isStorageFull(err)) await this.discard(upload.id).catch(() => undefined);
      throw err;
    }
    await this.meta.uploads.setSize(upload.id, size);
    upload.size = size;
  }

  private async discard(uploadId: string): Promise<void> {
    await this.meta.uploads.delete(uploadId);
    await this.files.remove(uploadId);
  }

  private async exclusive<T>(repository: string, uploadId: string, fn: (upload: UploadRecord) => Promise<T>): Promise<T> {
    // Taken before the session is read, in the same tick as the check, so GC's purge (which
    // takes it the same way) and a second writer can never slip in between.
    if (this.busy.has(uploadId)) {
      const upload = await this.status(repository, uploadId);
      throw new RegistryError("BLOB_UPLOAD_INVALID", "another request is writing to this upload", {
        status: 416,
        headers: rangeHeaders(upload),
      });
    }
    this.busy.add(uploadId);
    try {
      return await fn(await this.status(repository, uploadId));
    } finally {
      this.busy.delete(uploadId);
    }
  }
}

/** The spec's upload progress header: inclusive range of bytes received so far. */
export function uploadRange(upload: UploadRecord): string {
  return `0-${Math.max(upload.size - 1, 0)}`;
}

function rangeHeaders(upload: UploadRecord): Record<string, string> {
  return { Range: uploadRange(upload) };
}
