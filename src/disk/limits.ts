/**
 * Bounds on the work one layer may cost the inspector. A layer is untrusted input: the registry
 * stores whatever the spec allows, and the inspector must judge it without letting a crafted
 * tar or gzip stream take unbounded CPU, memory or time.
 */
export interface DiskLimits {
  /** Tar entries per layer; more is a tar bomb. */
  maxEntries: number;
  /** Tar bytes outside the disk file (other entries, headers, trailing data) per layer. */
  maxOtherBytes: number;
  /** How much of the disk file the header pass reads: enough for every format's header (ISO: 32 KiB + descriptors). */
  headerBytes: number;
  /** A gzip layer may expand at most this many times its compressed size ... */
  maxGzipRatio: number;
  /** ... once more than this many bytes have come out (small layers never trip the ratio). */
  gzipRatioFloor: number;
  /** Time budget of the header pass of one manifest. */
  probeTimeoutMs: number;
  /** Time budget of the checksum pass of one disk file. */
  checksumTimeoutMs: number;
}

export const DEFAULT_DISK_LIMITS: DiskLimits = {
  maxEntries: 10_000,
  maxOtherBytes: 64 * 1024 * 1024,
  headerBytes: 64 * 1024,
  // Deflate tops out near 1030:1 on runs of zeros. Sparse formats (qcow2, vmdk, vdi) compress a
  // few times at most; a layer expanding >100x after 64 MiB is a bomb or an almost empty raw disk
  // (the importer pushes raw disks uncompressed, so that case costs nothing legitimate).
  maxGzipRatio: 100,
  gzipRatioFloor: 64 * 1024 * 1024,
  probeTimeoutMs: 60_000,
  checksumTimeoutMs: 4 * 60 * 60 * 1000,
};
