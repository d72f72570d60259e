import { randomUUID } from "node:crypto";
import { RegistryError, type Digest } from "../oci/index.js";
import type { Metadata, UploadRecord } from "../meta/index.js";
import { isStorageFull, type BlobStorage } from "../storage/index.js";
import { UploadWriters, type BlobClaims } from "./single-process.js";
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
  private readonly writers = new UploadWriters();

  constructor(
    private readonly meta: Metadata,
    private readonly storage: BlobStorage,
    private readonly claims: BlobClaims,
  ) {}

  async start(repository: string): Promise<UploadRecord> {
    const id = randomUUID();
    await this.storage.beginUpload(id);
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
          await this.storage.commitUpload(upload.id, upload.size, digest);
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
    // Taken first, then the row deleted only if still idle: a write that landed meanwhile keeps it.
    if (!this.writers.take(uploadId)) return null;
    try {
      if (!(await this.meta.uploads.deleteIfIdle(uploadId, idleBefore))) return null;
      const bytes = (await this.storage.uploadSize(uploadId)) ?? 0;
      await this.storage.abortUpload(uploadId);
      return bytes;
    } finally {
      this.writers.release(uploadId);
    }
  }

  /**
   * Reconcile sessions with their files after a restart: a row whose file vanished is dropped,
   * a temp file without a row (a crash between create and insert, or after commit) is deleted.
   */
  async recover(): Promise<{ dropped: number; removedFiles: number }> {
    let dropped = 0;
    const known = new Set<string>();
    for (const upload of await this.meta.uploads.list()) {
      if ((await this.storage.uploadSize(upload.id)) === null) {
        await this.meta.uploads.delete(upload.id);
        dropped++;
      } else {
        known.add(upload.id);
      }
    }
    const removedFiles = await this.storage.pruneUploads((id) => known.has(id));
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
      throw new RegistryError("RANGE_INVALID", `chunk starts at ${chunk.start}, upload has ${upload.size} bytes`, {
        detail: { expectedStart: upload.size, start: chunk.start },
        headers: rangeHeaders(upload),
      });
    }
    // A body longer or shorter than declared is rolled back: it never becomes part of the blob.
    let size: number;
    try {
      size = await this.storage.appendUpload(upload.id, upload.size, body, { length: chunk.length });
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
    await this.storage.abortUpload(uploadId);
  }

  private async exclusive<T>(repository: string, uploadId: string, fn: (upload: UploadRecord) => Promise<T>): Promise<T> {
    // Taken before the session is read, so GC's purge and a second writer never slip in between.
    if (!this.writers.take(uploadId)) {
      const upload = await this.status(repository, uploadId);
      throw new RegistryError("RANGE_INVALID", "another request is writing to this upload", {
        headers: rangeHeaders(upload),
      });
    }
    try {
      return await fn(await this.status(repository, uploadId));
    } finally {
      this.writers.release(uploadId);
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
