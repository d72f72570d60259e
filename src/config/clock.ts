/**
 * Where "now" comes from, injected wherever rows are aged (GC grace, upload TTL, grace refresh,
 * the database's own timestamps), so that tests move time forward instead of rewriting rows.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
