/** Wall-clock seconds that `fn` takes. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Throughput in MB/s (10^6 bytes), the unit the figures are read in. */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds;
}

export const MiB = 1024 * 1024;
