/**
 * Human-friendly durations ("90s", "1h30m", "7d") and byte sizes ("256MiB", "10GB") for the
 * configuration file, flags and environment; the rest of dvcr sees only milliseconds and bytes.
 */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration such as "1h", "90s", "1h30m" or "0"; a bare number is milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw new Error(`invalid duration ${value}`);
    return value;
  }
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) {
    throw new Error(`invalid duration "${value}" (use e.g. 30s, 15m, 1h, 1h30m, 7d)`);
  }
  return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * DURATION_UNITS[p[2]!]!, 0));
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 2 ** 10,
  kib: 2 ** 10,
  mi: 2 ** 20,
  mib: 2 ** 20,
  gi: 2 ** 30,
  gib: 2 ** 30,
  ti: 2 ** 40,
  tib: 2 ** 40,
};

/** Bytes of a size such as "256MiB", "1GB", "512Mi" or a plain number. */
export function parseByteSize(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`invalid size ${value}`);
    return value;
  }
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(value.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`invalid size "${value}" (use e.g. 268435456, 256MiB, 10GB)`);
  return Math.round(Number(m[1]) * unit);
}

/**
 * `bytes` in the largest power of 1024 that keeps it at 1 or more, up to the `powers`-th (1: KiB,
 * 2: MiB, …). Each caller words the result its own way (messages, the CRD's quantities, tables).
 */
export function binaryScale(bytes: number, powers: number): { value: number; power: number } {
  let value = bytes;
  let power = 0;
  while (Math.abs(value) >= 1024 && power < powers) {
    value /= 1024;
    power++;
  }
  return { value, power };
}

/** "1.5 GiB": sizes in messages people read (error bodies, logs). */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  const { value, power } = binaryScale(bytes, units.length - 1);
  return power === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[power]}`;
}
