import { formatBytes } from "../config/units.js";
import { RegistryError } from "../oci/index.js";

/** Free space to keep: the larger of a fixed amount and a share of the volume. */
export interface ReservePolicy {
  bytes: number;
  percent: number;
}

/** The volume blobs are written to, as its backend measures it. */
export interface StorageCapacity {
  /** Current figures (a backend may reuse a recent sample). */
  stats(): Promise<VolumeStats>;
  /** Forget any sample (space was just freed, or the volume resized). */
  invalidate(): void;
}

export interface VolumeStats {
  capacityBytes: number;
  usedBytes: number;
  /** Bytes an unprivileged writer may still use (statfs bavail), minus our writes since the sample. */
  freeBytes: number;
  reserveBytes: number;
}

export function storageFullError(stats: VolumeStats, neededBytes: number): RegistryError {
  const free = formatBytes(stats.freeBytes);
  const reserve = formatBytes(stats.reserveBytes);
  const message =
    neededBytes > 0
      ? `the storage volume is full: ${free} free, ${reserve} reserved, and the upload needs ${formatBytes(neededBytes)} more; the upload was discarded`
      : `the storage volume is full: ${free} free of ${formatBytes(stats.capacityBytes)}, ${reserve} reserved; the upload was discarded`;
  return new RegistryError("STORAGE_FULL", message, {
    detail: {
      freeBytes: stats.freeBytes,
      reserveBytes: stats.reserveBytes,
      capacityBytes: stats.capacityBytes,
      ...(neededBytes > 0 ? { neededBytes } : {}),
    },
  });
}

/** Whether an error means the volume ran out of space (ours, the kernel's, or SQLite's). */
export function isStorageFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === "STORAGE_FULL" || code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL";
}
