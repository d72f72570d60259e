/**
 * The importer's in-process contract: the ClusterVirtualImage controller and `dvcr import` both
 * call importImage() with these shapes. Fields marked optional beyond the contract are tuning
 * knobs with production defaults.
 */
export interface BasicCredentials {
  username: string;
  password: string;
}

export type ImportSource =
  | { type: "http"; url: string; caBundle?: string /* PEM text */; credentials?: BasicCredentials; insecure?: boolean }
  | {
      type: "registry";
      image: string /* host[:port]/repo[:tag|@digest] */;
      authFile?: string /* docker config JSON path */;
      credentials?: BasicCredentials;
      caBundle?: string;
      insecure?: boolean;
    }
  /** Another repository of the destination registry: cross-repository mount, zero bytes copied. */
  | { type: "dvcr"; repository: string; reference: string }
  | { type: "file"; path: string }
  /** An upload body. */
  | { type: "stream"; body: NodeJS.ReadableStream; size?: number; fileName: string };

export interface ImportDestination {
  /** Base URL, e.g. http://127.0.0.1:5000 */
  registry: string;
  repository: string;
  tag: string;
  credentials?: BasicCredentials;
  authFile?: string;
  caBundle?: string;
  insecure?: boolean;
  /** Docker schema2 (DVCR's importer, the default) or OCI media types. */
  manifestFormat?: "docker" | "oci";
}

/** Speeds in bytes/s; `bytes` counts source bytes read (compressed, as they come). */
export interface ImportProgress {
  bytes: number;
  totalBytes?: number;
  percent?: number;
  currentSpeed: number;
  averageSpeed: number;
}

export interface ImportResult {
  manifestDigest: string;
  /** Bytes of the disk file in the layer (decompressed), as the `source-image-size` label. */
  sourceImageSize: number;
  sourceImageVirtualSize: number;
  sourceImageFormat: string;
  /** Sum of config + layer blob sizes. */
  storedBytes: number;
  unpackedBytes: number;
  cdrom: boolean;
  durationMs: number;
  averageSpeed: number;
  /** How the source was compressed before the importer unpacked it. */
  sourceCompression?: "none" | "gzip" | "xz";
  /** How the decompressed size was learnt (README: "Decompressed size"). */
  sizeFrom?: "source" | "xz-index" | "spool";
}

export type ChecksumAlgorithm = "md5" | "sha1" | "sha256" | "sha512";
export interface Checksum {
  algorithm: ChecksumAlgorithm;
  hex: string;
}

/** Production defaults in brackets; tests shorten the clocks. */
export interface ImportTuning {
  /** A download that delivers no byte for this long is cut and resumed [10 min]. */
  stallTimeoutMs?: number;
  /** First retry delay; each next one is 3× longer [1 s] ... */
  retryBaseMs?: number;
  /** ... capped here [1 min] ... */
  retryMaxDelayMs?: number;
  /** ... for this many tries in a row without progress [20]. */
  maxTries?: number;
  /** Upload chunk size: each chunk is held until the registry acknowledges it [8 MiB]. */
  chunkBytes?: number;
  /** PATCH size of a blob copied from another registry, streamed from ranged reads, not held [256 MiB]. */
  copySegmentBytes?: number;
  /** Where a decompressed disk is spooled when nothing tells its size first [os.tmpdir()]. */
  spoolDir?: string;
  /** Free bytes the spool never uses on its volume [64 MiB]. */
  spoolReserveBytes?: number;
}

export interface ImportRequest {
  source: ImportSource;
  destination: ImportDestination;
  checksums?: Checksum[];
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
  tuning?: ImportTuning;
}
