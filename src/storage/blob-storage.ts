import type { Readable } from "node:stream";
import type { Digest } from "../oci/index.js";
import type { StorageCapacity } from "./capacity.js";

/** Hands one block on; resolves when the block's memory may be reused (e.g. the socket took it). */
export type BlockSink = (block: Buffer) => Promise<void>;

/**
 * The blob store as the registry uses it: content-addressed bytes and upload sessions, nothing
 * about repositories or manifests (meta/ knows those). Streams only — a backend never holds a
 * blob in memory. `storage/fs/` is the first driver (a local volume: O_DIRECT, fsync, rename);
 * an object-store driver (S3, Ceph RGW) implements the same interface and passes the same suite
 * (test/contracts/blob-storage.ts). Errors a client should see are RegistryErrors
 * (DIGEST_INVALID, SIZE_INVALID, STORAGE_FULL); "absent" is a null, never a platform error code.
 */
export interface BlobStorage {
  /** Create what the backend needs (folders, buckets) and probe its write path. */
  init(): Promise<void>;

  /** Size of a stored blob, or null when absent. */
  stat(digest: Digest): Promise<number | null>;
  /**
   * Bytes [start, end] (inclusive) of a stored blob, opened before the caller commits to an
   * answer (null when absent); the caller sends or streams it exactly once, or closes it.
   */
  read(digest: Digest, start: number, end: number): Promise<BlobReader | null>;
  /**
   * Where a client may fetch the blob directly (a presigned object-store URL), or undefined
   * when the registry must send the bytes itself (the filesystem driver always).
   */
  redirectUrl(digest: Digest): Promise<string | undefined>;

  /** Open an empty upload session (refused with STORAGE_FULL when there is no room). */
  beginUpload(uploadId: string): Promise<void>;
  /**
   * Append `source` at `offset` (the session's committed size). Durable when it resolves; on
   * failure the session is left at `offset`, resumable. Returns the new committed size.
   */
  appendUpload(uploadId: string, offset: number, source: AsyncIterable<Buffer | string>, options?: AppendOptions): Promise<number>;
  /**
   * Make the session's first `size` bytes the blob `expected`, if they hash to it (else
   * DIGEST_INVALID and no blob appears). Returns what was stored.
   */
  commitUpload(uploadId: string, size: number, expected: Digest): Promise<{ digest: Digest; size: number }>;
  /** Discard a session's bytes (idempotent). */
  abortUpload(uploadId: string): Promise<void>;
  /** Bytes a session holds (may exceed its committed size after a crash), or null when it has none. */
  uploadSize(uploadId: string): Promise<number | null>;
  /** Remove every session (and stray leftover) whose id `keep` rejects; how many went (start-up reconcile). */
  pruneUploads(keep: (uploadId: string) => boolean): Promise<number>;

  /** Remove a stored blob (idempotent). */
  delete(digest: Digest): Promise<void>;
  /** Every stored blob, for GC's orphan sweep; memory stays small however many there are. */
  list(): AsyncIterable<StoredBlob>;
  /** Re-read and hash a stored blob (scrub), or null when absent. */
  verify(digest: Digest): Promise<BlobCheck | null>;
  /**
   * Take a blob out of service, kept aside for inspection, if it is still the very object
   * `check` judged (a re-push may have replaced it since). Returns whether it moved.
   */
  quarantine(digest: Digest, check: BlobCheck): Promise<boolean>;

  /** Room left for uploads. */
  readonly capacity: StorageCapacity;
  /** Whether the backend accepts writes right now (readiness). */
  checkWritable(): Promise<WriteCheck>;
  /** How upload bytes are written (the filesystem driver: O_DIRECT, or the page cache and why). */
  readonly writePath: { direct: boolean; refusal?: string };
}

export interface AppendOptions {
  /** The exact number of bytes the client declared; more or fewer is refused (SIZE_INVALID) and rolled back. */
  length?: number;
}

/** An open range of a blob. */
export interface BlobReader {
  /** Bytes in the range. */
  readonly length: number;
  /**
   * Hand the bytes to `sink` in order, block by block, reading ahead into reused buffers (the
   * pull path: no allocation per block). Resolves when every block was taken; closes the reader.
   */
  pipeTo(sink: BlockSink): Promise<void>;
  /** The bytes as a Node stream (for parsers: the disk index); closes the reader when it ends. */
  stream(): Readable;
  /** Release the reader without reading (idempotent). */
  close(): Promise<void>;
}

export interface StoredBlob {
  digest: Digest;
  size: number;
  /** When the object was last written (ms since the epoch): GC keeps young orphans. */
  modifiedAt: number;
}

export interface BlobCheck {
  /** The digest of the bytes actually stored. */
  actual: Digest;
  size: number;
  /** Identifies the object judged (an inode, an ETag), so a quarantine moves that one and no other. */
  version: string;
}

export type WriteCheck = { ok: true } | { ok: false; full: boolean; message: string };
