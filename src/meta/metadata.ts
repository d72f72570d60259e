import type {
  BlobRow,
  DeadManifest,
  DiskImageRecord,
  ExpectedReference,
  IdleUpload,
  ManifestRecord,
  ManifestRef,
  ManifestSummary,
  MetadataUsage,
  NewManifest,
  Page,
  ReferenceProblem,
  RepositoryActivity,
  TaggedImage,
  TaggedImageQuery,
  UploadRecord,
} from "./records.js";
import type { ObjectMetadata } from "./objects.js";

/**
 * The metadata the registry keeps, as the domain needs it. Every method is one atomic
 * operation: a backend runs each in a single transaction (or its equivalent), so callers never
 * group calls and never hold a lock across their own I/O. Times come from the backend's
 * injected clock. `meta/sqlite/` is the first backend; a PostgreSQL one implements the same
 * interface and passes the same suite (test/contracts/metadata.ts).
 */
export interface Metadata {
  readonly repositories: RepositoryMetadata;
  readonly blobs: BlobMetadata;
  readonly manifests: ManifestMetadata;
  readonly uploads: UploadMetadata;
  readonly collection: CollectionMetadata;
  readonly diskImages: DiskImageMetadata;
  /** The Kubernetes-style API's objects (ClusterVirtualImages) and their change log. */
  readonly objects: ObjectMetadata;
  /** Sums over blobs and upload sessions; also the readiness probe's question. */
  usage(): Promise<MetadataUsage>;
  close(): Promise<void>;
}

export interface RepositoryMetadata {
  exists(name: string): Promise<boolean>;
  /** The catalog: repositories holding at least one manifest, by name. */
  list(page: Page): Promise<string[]>;
  /** Repositories owned by a cluster resource (cvi/, vi/, vd/), with their latest activity. */
  owned(): Promise<RepositoryActivity[]>;
  /**
   * Delete a repository with its tags, manifests and blob links (an admin's delete); the
   * blobs' grace clocks restart now. Undefined when there is no such repository.
   */
  delete(name: string): Promise<{ manifests: number; tags: number } | undefined>;
  /**
   * Delete a repository whose owner is gone, unless it saw activity after `idleBefore` (checked
   * in the same transaction). Its blobs' grace clocks keep the time of its last activity, so
   * the same GC run reclaims them.
   */
  deleteIfIdle(name: string, idleBefore: number): Promise<boolean>;
}

export interface BlobMetadata {
  /** Size of a committed blob anywhere in the registry. */
  sizeOf(digest: string): Promise<number | undefined>;
  /** Size and GC grace clock of a blob as one repository sees it (undefined unless linked). */
  linked(repository: string, digest: string): Promise<{ size: number; graceSince: number } | undefined>;
  /** Repositories that link this blob (for mounts without `from`), by name. */
  holders(digest: string): Promise<string[]>;
  /**
   * Cross-repository mount: link the blob into `repository` from the first of `sources` that
   * still links it, and restart its grace clock (a manifest follows). Returns its size, or
   * undefined when no source holds it.
   */
  mount(repository: string, digest: string, sources: readonly string[]): Promise<number | undefined>;
  /** Record a committed upload: blob row, grace clock, the repository's link, session gone. */
  commitUpload(uploadId: string, repository: string, digest: string, size: number): Promise<void>;
  unlink(repository: string, digest: string): Promise<boolean>;
  /** Restart the blob's grace clock (it was looked up: a manifest referencing it may follow). */
  touch(digest: string): Promise<void>;
  /** Forget a blob whatever references it (scrub --repair: its bytes are gone or wrong). */
  forget(digest: string): Promise<boolean>;
  /** Stored blobs in pages by digest (all, or those linked to one repository). */
  page(after: string, limit: number, repository?: string): Promise<BlobRow[]>;
}

export interface ManifestMetadata {
  get(repository: string, digest: string): Promise<ManifestRecord | undefined>;
  getByTag(repository: string, tag: string): Promise<ManifestRecord | undefined>;
  /**
   * Store a manifest (idempotent on digest), point `tags` at it and restart its grace clock —
   * if the repository holds every referenced blob and child manifest at the descriptor's size,
   * checked in the same transaction. Otherwise nothing is stored and the first problem is
   * returned.
   */
  put(repository: string, manifest: NewManifest, tags: readonly string[], references: ManifestReferences): Promise<ReferenceProblem | undefined>;
  /** Restart the manifest's grace clock (looked up by digest: an index may reference it). */
  touch(repository: string, digest: string): Promise<void>;
  /** Delete a manifest and every tag pointing at it. */
  delete(repository: string, digest: string): Promise<boolean>;
  deleteTag(repository: string, tag: string): Promise<boolean>;
  listTags(repository: string, page: Page): Promise<string[]>;
  /** Manifests whose subject is `subject`, oldest first. */
  referrers(repository: string, subject: string): Promise<ManifestSummary[]>;
}

export interface ManifestReferences {
  blobs: readonly ExpectedReference[];
  manifests: readonly ExpectedReference[];
}

export interface UploadMetadata {
  create(id: string, repository: string): Promise<UploadRecord>;
  get(id: string): Promise<UploadRecord | undefined>;
  /** The session's committed (durable) size moved forward. */
  setSize(id: string, size: number): Promise<void>;
  delete(id: string): Promise<boolean>;
  list(): Promise<UploadRecord[]>;
  /** Sessions not written to since `idleBefore`, oldest first. */
  idle(idleBefore: number): Promise<IdleUpload[]>;
  /** Delete the session if it was not written to since `idleBefore` (checked in the same step). */
  deleteIfIdle(id: string, idleBefore: number): Promise<boolean>;
}

/**
 * Garbage collection's mark and sweep. The mark is one query over the whole registry; each
 * deletion re-marks inside its own transaction, so a push that commits between GC's mark and
 * its sweep is never lost.
 */
export interface CollectionMetadata {
  /** Manifests the mark does not reach (at most `limit`; -1: all). */
  deadManifests(cutoff: number, limit: number): Promise<DeadManifest[]>;
  /**
   * Delete up to `limit` dead manifests, re-marking in the transaction. Blobs only they held
   * keep the time the manifests died as their grace clock, so one run reclaims both.
   */
  deleteDeadManifests(cutoff: number, limit: number): Promise<DeadManifest[]>;
  /** Blobs the sweep may delete, in pages by digest. */
  collectableBlobs(cutoff: number, after: string, limit: number): Promise<BlobRow[]>;
  /** Forget a blob if still collectable (row and links together); its size, or undefined when kept. */
  deleteBlobIfCollectable(digest: string, cutoff: number): Promise<number | undefined>;
  /** What the blob sweep would free now, without a file walk. */
  reclaimable(cutoff: number): Promise<{ bytes: number; blobs: number }>;
}

export interface DiskImageMetadata {
  get(digest: string): Promise<DiskImageRecord | null>;
  /** Write a row; a manifest deleted meanwhile leaves none. */
  save(digest: string, record: DiskImageRecord): Promise<void>;
  /** Tagged images in (repository, tag) order, after a cursor, optionally narrowed. */
  listTagged(query: TaggedImageQuery): Promise<TaggedImage[]>;
  /** Every tagged image (metrics aggregate these at scrape time). */
  allTagged(): Promise<TaggedImage[]>;
  byTag(repository: string, tag: string): Promise<TaggedImage | undefined>;
  /** A manifest of a repository by digest: with its first tag, or tag null when it has none. */
  byManifest(repository: string, digest: string): Promise<TaggedImage | undefined>;
  /** The manifest's bytes from any repository holding it (equal digests, equal bytes). */
  manifestContent(digest: string): Promise<{ mediaType: string; content: Buffer } | undefined>;
  /** Manifests without a final row of inspector version `inspector` (what start-up resumes). */
  pending(inspector: number, limit: number): Promise<ManifestRef[]>;
  /** Every manifest digest, in pages (reindex). */
  manifestsAfter(digest: string, limit: number): Promise<ManifestRef[]>;
  /** Drop rows of manifests no repository holds any more; how many went. */
  removeOrphans(): Promise<number>;
}
