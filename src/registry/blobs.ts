import type { FileHandle } from "node:fs/promises";
import { RegistryError, type Digest } from "../oci/index.js";
import type { Metadata } from "../meta/index.js";
import type { BlobStore } from "../storage/index.js";
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
    private readonly store: BlobStore,
  ) {}

  /**
   * Answered from SQLite alone: HEAD never touches the blob file. A blob looked up may be about
   * to be referenced by a push that skipped uploading it: its GC grace clock restarts (grace.ts).
   */
  stat(repository: string, digest: Digest): BlobInfo {
    const repoId = this.meta.repositories.idOf(repository);
    const linked = repoId === undefined ? undefined : this.meta.blobs.linkedStat(repoId, digest.value);
    if (linked === undefined) throw new RegistryError("BLOB_UNKNOWN", undefined, { detail: { digest: digest.value } });
    refreshGrace(linked.graceSince, () => this.meta.gc.touchBlob(digest.value));
    return { digest, size: linked.size };
  }

  /** The file of a blob the repository holds, open for reading (the caller closes it). */
  async openFile(repository: string, digest: Digest): Promise<FileHandle> {
    this.stat(repository, digest);
    try {
      return await this.store.openFile(digest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        // The row says stored but the file is gone: damage outside dvcr. Say so, never serve junk.
        throw new RegistryError("BLOB_UNKNOWN", "blob content is missing from storage", { detail: { digest: digest.value } });
      }
      throw err;
    }
  }

  /** Unlink a blob from a repository; the bytes stay until garbage collection finds them unused. */
  delete(repository: string, digest: Digest): void {
    const repoId = this.meta.repositories.idOf(repository);
    if (repoId === undefined || !this.meta.blobs.unlink(repoId, digest.value)) {
      throw new RegistryError("BLOB_UNKNOWN", undefined, { detail: { digest: digest.value } });
    }
  }

  /**
   * Link an existing blob into `repository`. With `from`, only that repository is a source;
   * without it, any repository the caller can read (spec: automatic mount). Returns null when
   * no mount is possible, so the caller falls back to a normal upload.
   */
  mount(repository: string, digest: Digest, from: string | undefined, canRead: ReadAccess): BlobInfo | null {
    return this.meta.transaction(() => {
      const sources = from === undefined ? this.meta.blobs.repositoriesHolding(digest.value) : [from];
      const source = sources.find((name) => {
        if (!canRead(name)) return false;
        const id = this.meta.repositories.idOf(name);
        return id !== undefined && this.meta.blobs.linkedSizeOf(id, digest.value) !== undefined;
      });
      if (source === undefined) return null;
      const size = this.meta.blobs.sizeOf(digest.value)!;
      this.meta.blobs.link(this.meta.repositories.ensure(repository), digest.value);
      // A mount is the first step of a push: keep the blob out of GC until the manifest follows.
      this.meta.gc.touchBlob(digest.value);
      return { digest, size };
    });
  }
}
