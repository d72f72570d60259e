import type { Readable } from "node:stream";
import type { DiskImageRecord } from "../meta/index.js";

/*
 * What the indexer needs before any inspection runs (the row shapes, the inspector's version):
 * kept apart from inspector.ts, whose disk parsers (tar, gzip, xz, the formats) are loaded only
 * when the first image is inspected.
 */

/** Bumped when the inspector learns something new: rows of older versions are redone at start-up. */
export const INSPECTOR_VERSION = 2;

/** How the inspector reads what a manifest references: committed blobs, by digest. */
export interface BlobReader {
  /** Size of a committed blob, undefined when there is none. */
  size(digest: string): Promise<number | undefined>;
  open(digest: string, start: number, end: number): Promise<Readable>;
}

/** A final row with nothing found yet; the passes fill it in. */
export function emptyRecord(): DiskImageRecord {
  return {
    status: "ready",
    inspector: INSPECTOR_VERSION,
    format: null,
    reason: null,
    virtualSize: null,
    storedSize: null,
    unpackedSize: null,
    diskFile: null,
    layerDigest: null,
    cdrom: false,
    compression: null,
    sha256: null,
    md5: null,
    details: null,
    labels: {},
    labelMismatch: [],
    indexedAt: Date.now(),
  };
}

/** The row of a manifest that is not (or not a usable) disk image: final, with why. */
export function notADisk(base: DiskImageRecord, reason: string): DiskImageRecord {
  return {
    ...base,
    status: "ready",
    format: null,
    reason,
    virtualSize: null,
    unpackedSize: null,
    cdrom: false,
    compression: null,
    sha256: null,
    md5: null,
    details: null,
    labelMismatch: [],
    indexedAt: Date.now(),
  };
}
