import type { Clock } from "../config/clock.js";
import type { BlobMetadata, Metadata } from "../meta/index.js";
import type { BlobClaims, UploadService } from "../registry/index.js";
import type { BlobStorage } from "../storage/index.js";

/**
 * What each operation may touch: narrow ports instead of the whole registry, so a reader sees
 * at a glance what GC can delete and what scrub can change.
 */

/** Garbage collection: the mark-and-sweep queries, blob removal, and the upload purge. */
export interface CollectorPort {
  meta: Pick<Metadata, "repositories" | "uploads" | "collection"> & { blobs: Pick<BlobMetadata, "sizeOf"> };
  storage: Pick<BlobStorage, "delete" | "list" | "capacity">;
  /** A removal waits for no one and is refused for a digest an upload is committing. */
  claims: Pick<BlobClaims, "beginRemoval">;
  uploads: Pick<UploadService, "purgeIfIdle">;
  clock: Clock;
  /**
   * Repositories whose owner this registry itself serves (a ClusterVirtualImage's `cvi/<name>`):
   * a keep-list GC never deletes them, whatever the list says. Read at sweep time.
   */
  ownedRepositories?: () => Promise<readonly string[]>;
}

/** Scrub: every stored blob re-hashed; with repair, damaged ones quarantined and forgotten. */
export interface ScrubPort {
  blobs: Pick<BlobMetadata, "page" | "sizeOf" | "forget">;
  storage: Pick<BlobStorage, "verify" | "quarantine" | "stat">;
  claims: Pick<BlobClaims, "beginRemoval">;
}

/** GET /api/v1/storage and the storage gauges: read-only sums. */
export interface StorageReportPort {
  meta: Pick<Metadata, "usage" | "uploads" | "collection">;
  storage: Pick<BlobStorage, "capacity" | "writePath">;
  clock: Clock;
}
