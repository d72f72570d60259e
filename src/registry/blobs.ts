import { RegistryError, type Digest } from "../oci/index.js";
import type { Metadata } from "../meta/index.js";
import type { BlobReader, BlobStorage } from "../storage/index.js";
import type { Clock } from "../config/clock.js";
import { refreshGrace } from "./grace.js";

export interface BlobInfo {
  digest: Digest;
  size: number;
}

/** Decides whether the caller may read a repository (auth plugs in here; open registry: always). */
export type ReadAccess = (repository: string) => boolean;

/** Blob reads, deletes and cross-repository mounts, as one repository sees them. */
export class BlobService {
  constructor(
    private readonly meta: Metadata,
    private readonly storage: BlobStorage,
    private readonly clock: Clock,
  ) {}

  /**
   * Answered from SQLite alone: HEAD never touches the blob file. A blob looked up may be about
   * to be referenced by a push that skipped uploading it: its GC grace clock restarts (grace.ts).
   */
  async stat(repository: string, digest: Digest): Promise<BlobInfo> {
    const linked = await this.meta.blobs.linked(repository, digest.value);
    if (linked === undefined) throw new RegistryError("BLOB_UNKNOWN", undefined, { detail: { digest: digest.value } });
    await refreshGrace(this.clock, linked.graceSince, () => this.meta.blobs.touch(digest.value));
    return { digest, size: linked.size };
  }

  /**
   * Bytes [start, end] of a blob the repository holds (`stat` first): a URL the client may
   * fetch them from directly when the backend has one, else the range opened for sending.
   */
  async read(digest: Digest, start: number, end: number): Promise<{ redirect: string } | { reader: BlobReader }> {
    const redirect = await this.storage.redirectUrl(digest);
    if (redirect !== undefined) return { redirect };
    const reader = await this.storage.read(digest, start, end);
    // The row says stored but the bytes are gone: damage outside dvcr. Say so, never serve junk.
    if (!reader) throw new RegistryError("BLOB_UNKNOWN", "blob content is missing from storage", { detail: { digest: digest.value } });
    return { reader };
  }

  /** Unlink a blob from a repository; the bytes stay until garbage collection finds them unused. */
  async delete(repository: string, digest: Digest): Promise<void> {
    if (!(await this.meta.blobs.unlink(repository, digest.value))) {
      throw new RegistryError("BLOB_UNKNOWN", undefined, { detail: { digest: digest.value } });
    }
  }

  /**
   * Link an existing blob into `repository`. With `from`, only that repository is a source;
   * without it, any repository the caller can read (spec: automatic mount). Returns null when
   * no mount is possible, so the caller falls back to a normal upload.
   */
  async mount(repository: string, digest: Digest, from: string | undefined, canRead: ReadAccess): Promise<BlobInfo | null> {
    const candidates = from === undefined ? await this.meta.blobs.holders(digest.value) : [from];
    // Re-checked in the mount's own transaction: a source may unlink the blob meanwhile.
    const size = await this.meta.blobs.mount(repository, digest.value, candidates.filter(canRead));
    return size === undefined ? null : { digest, size };
  }
}
