/** Summary statistics of one figure's samples (one sample per pair). */
export interface Summary {
  samples: number[];
  median: number;
  min: number;
  max: number;
}

export function median(values: number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(samples: number[]): Summary {
  return { samples, median: median(samples), min: Math.min(...samples), max: Math.max(...samples) };
}

/**
 * dvcr ÷ reference, pair by pair. Absolute times on a shared machine drift between pairs; the
 * two halves of one pair ran back to back, so their ratio is what carries meaning.
 */
export function pairRatios(dvcr: number[], reference: number[]): number[] {
  if (dvcr.length !== reference.length) throw new Error("unpaired samples");
  return dvcr.map((value, i) => value / reference[i]!);
}
