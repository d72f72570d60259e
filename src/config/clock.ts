/**
 * Where "now" comes from, injected wherever rows are aged (GC grace, upload TTL, grace refresh,
 * the database's own timestamps), so that tests move time forward instead of rewriting rows.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that stands still until moved by hand (tests age rows by moving it). */
export class ManualClock implements Clock {
  constructor(private time = Date.now()) {}

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }
}
