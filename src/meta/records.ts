/** Rows of the metadata store, as the rest of dvcr sees them. */
export interface UploadRecord {
  id: string;
  repository: string;
  size: number;
  createdAt: number;
  updatedAt: number;
}

export interface ManifestRecord {
  id: number;
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  content: Buffer;
  artifactType: string | null;
  subject: string | null;
  annotations: Record<string, string> | null;
  createdAt: number;
  /** When its GC grace period started (pushed, last untagged or dereferenced, or last looked up). */
  graceSince: number;
}

export type ManifestSummary = Omit<ManifestRecord, "content" | "repository">;

export interface NewManifest {
  digest: string;
  mediaType: string;
  content: Buffer;
  artifactType?: string;
  subject?: string;
  annotations?: Record<string, string>;
  blobs: string[];
  manifests: string[];
}

export interface Page {
  limit?: number;
  last?: string;
}

/* The disk-image index: what the inspector found in each manifest, keyed by manifest digest. */

/** `indexing` until the checksum pass is done; `ready` when the row is final (found or failed). */
export type DiskImageStatus = "indexing" | "ready";

export interface DiskImageRecord {
  status: DiskImageStatus;
  /** Version of the inspector that wrote the row; older rows are re-inspected at start-up. */
  inspector: number;
  format: string | null;
  /** Why `format` is null (not a disk image, a layer the inspector refused), or why the checksums are. */
  reason: string | null;
  /** Size of the disk as the guest sees it. */
  virtualSize: number | null;
  /** Bytes of the image's layers as stored (compressed when the layers are). */
  storedSize: number | null;
  /** Bytes of the disk itself (decompressed when `compression` is set; null until known). */
  unpackedSize: number | null;
  /** `disk/<file>` */
  diskFile: string | null;
  layerDigest: string | null;
  cdrom: boolean;
  /**
   * The disk file is kept gzip- or xz-compressed in its layer (DVCR's own importer stores the
   * source as it came): format, sizes and checksums are of the disk inside it.
   */
  compression: "gzip" | "xz" | null;
  /** Of the disk (not of the layer; decompressed when `compression` is set). */
  sha256: string | null;
  md5: string | null;
  /** Format-specific facts: qcow2 version, backing file, encryption; vmdk create type; … */
  details: Record<string, unknown> | null;
  /** The image config's labels. */
  labels: Record<string, string>;
  /** source-image-* labels that disagree with what was found. */
  labelMismatch: string[];
  /** When the row became ready (ms since the epoch). */
  indexedAt: number | null;
}

/** A tagged manifest of a repository, with its index row when the inspector has written one. */
export interface TaggedImage {
  repository: string;
  tag: string | null;
  digest: string;
  mediaType: string;
  createdAt: number;
  image: DiskImageRecord | null;
}

export interface TaggedImageQuery {
  /** Only repositories whose name starts with this. */
  repositoryPrefix?: string;
  format?: string;
  /** Resume after this (repository, tag), exclusive. */
  after?: { repository: string; tag: string };
  limit: number;
}

export interface ManifestRef {
  repository: string;
  digest: string;
}

/** A manifest the mark phase does not reach. */
export interface DeadManifest {
  id: number;
  repository: string;
  digest: string;
  size: number;
}

export interface BlobRow {
  digest: string;
  size: number;
}

export interface RepositoryActivity {
  id: number;
  name: string;
  /** Latest of: created, a manifest pushed or untagged, a blob linked, an upload written. */
  lastActivity: number;
}

/** Sums over the metadata (storage report, gauges). */
export interface MetadataUsage {
  blobsBytes: number;
  blobs: number;
  uploadsBytes: number;
  uploads: number;
}

/** An upload session nobody has written to for a while (GC's upload TTL). */
export interface IdleUpload {
  id: string;
  repository: string;
  size: number;
}

/** What a manifest references, with the size its descriptor claims. */
export interface ExpectedReference {
  digest: string;
  size: number;
}

/** Why a manifest was not stored: a reference the repository does not hold, or holds at another size. */
export interface ReferenceProblem {
  kind: "blob" | "manifest";
  digest: string;
  /** The descriptor's size. */
  size: number;
  /** The stored object's size; undefined when the repository does not hold it. */
  stored: number | undefined;
}
