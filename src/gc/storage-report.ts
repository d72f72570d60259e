import type { StorageReportPort } from "./ports.js";

/** GET /api/v1/storage: the volume as statfs sees it, and what dvcr keeps on it. */
export interface StorageReport {
  capacityBytes: number;
  usedBytes: number;
  freeBytes: number;
  /** Free space uploads never consume (storage.reserve). */
  reserveBytes: number;
  /** Free space is at or below the reserve: uploads get 507, pulls and deletes go on. */
  full: boolean;
  blobsBytes: number;
  blobs: number;
  uploadsBytes: number;
  uploadSessions: number;
  /** What a GC now would free: collectable blobs and expired upload sessions (orphan files not counted). */
  reclaimableBytes: number;
  /** Uploads are written with O_DIRECT; false when configured off or refused by the volume (`directIoRefusal` says why). */
  directIo: boolean;
  directIoRefusal?: string;
}

export async function storageReport(port: StorageReportPort, graceMs: number, uploadTtlMs: number): Promise<StorageReport> {
  const volume = await port.storage.capacity.stats();
  const now = port.clock.now();
  const usage = await port.meta.usage();
  const { writePath } = port.storage;
  const expiredUploads = (await port.meta.uploads.idle(now - uploadTtlMs)).reduce((sum, u) => sum + u.size, 0);
  return {
    ...volume,
    full: volume.freeBytes <= volume.reserveBytes,
    blobsBytes: usage.blobsBytes,
    blobs: usage.blobs,
    uploadsBytes: usage.uploadsBytes,
    uploadSessions: usage.uploads,
    reclaimableBytes: (await port.meta.collection.reclaimable(now - graceMs)).bytes + expiredUploads,
    directIo: writePath.direct,
    ...(writePath.refusal ? { directIoRefusal: writePath.refusal } : {}),
  };
}
