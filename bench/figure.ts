import type { MachineLimits } from "./figures/machine-limits.js";

/** What a target compares: the pair ratios, dvcr's peak, or dvcr against a machine limit. */
export type Target =
  | { kind: "ratio"; atLeast?: number; atMost?: number }
  | { kind: "peak"; atMost: number }
  | { kind: "limit"; limit: keyof MachineLimits; fractionAtLeast: number };

export interface FigureDefinition {
  id: string;
  title: string;
  unit: "MB/s" | "req/s" | "ms" | "MiB";
  better: "higher" | "lower";
  targets: Target[];
}

/** The sizes one run works with (--size, --quick). */
export interface Sizes {
  blobBytes: number;
  chunkBytes: number;
  rangeBytes: number;
}

export function sizeLabel(bytes: number): string {
  const units: [number, string][] = [
    [1024 ** 3, "GiB"],
    [1024 ** 2, "MiB"],
    [1024, "KiB"],
  ];
  for (const [factor, unit] of units) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor} ${unit}`;
  }
  return `${bytes} B`;
}

/** One registry's measurements in one pair, by figure id. */
export type Samples = Record<string, number>;
