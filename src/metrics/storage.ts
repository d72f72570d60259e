import { Gauge } from "prom-client";
import { metricsRegistry } from "./registry.js";

/** What the storage gauges read at scrape time (the volume, and sums from the metadata). */
export interface StorageUsage {
  capacityBytes: number;
  usedBytes: number;
  freeBytes: number;
  reserveBytes: number;
  blobsBytes: number;
  uploadsBytes: number;
  uploadSessions: number;
  /** 1 when uploads are written with O_DIRECT. */
  directIo: number;
}

type UsageSource = () => Promise<StorageUsage>;

/**
 * The registry whose volume the gauges describe. One dvcr process serves one data root; tests
 * that run several in-process servers see the most recently started one.
 */
let source: UsageSource | undefined;
let pending: Promise<StorageUsage | undefined> | undefined;

export function setStorageUsageSource(next: UsageSource): () => void {
  source = next;
  return () => {
    if (source === next) source = undefined;
  };
}

/** One statfs + SQL round per scrape, shared by every gauge below. */
function usage(): Promise<StorageUsage | undefined> {
  if (!source) return Promise.resolve(undefined);
  pending ??= source().finally(() => (pending = undefined));
  return pending;
}

function storageGauge(name: string, help: string, pick: (u: StorageUsage) => number): Gauge {
  return new Gauge({
    name,
    help,
    registers: [metricsRegistry],
    async collect() {
      const u = await usage();
      if (u) this.set(pick(u));
    },
  });
}

export const storageGauges = [
  storageGauge("dvcr_storage_capacity_bytes", "Size of the volume holding the data root (statfs)", (u) => u.capacityBytes),
  storageGauge("dvcr_storage_used_bytes", "Bytes in use on the volume, by anything (statfs)", (u) => u.usedBytes),
  storageGauge("dvcr_storage_free_bytes", "Bytes available on the volume (statfs)", (u) => u.freeBytes),
  storageGauge("dvcr_storage_reserve_bytes", "Free space uploads never consume (storage.reserve)", (u) => u.reserveBytes),
  storageGauge("dvcr_storage_blobs_bytes", "Bytes of committed blobs recorded in the metadata", (u) => u.blobsBytes),
  storageGauge("dvcr_storage_uploads_bytes", "Bytes held by open upload sessions", (u) => u.uploadsBytes),
  storageGauge("dvcr_upload_sessions", "Open upload sessions (started, not yet completed or purged)", (u) => u.uploadSessions),
  storageGauge("dvcr_storage_direct_io", "1 when uploads are written with O_DIRECT, 0 when through the page cache (configured off, or refused by the volume)", (u) => u.directIo),
];
