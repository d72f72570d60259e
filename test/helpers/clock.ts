import type { Clock } from "../../src/config/clock.js";

/** A clock that stands still until moved by hand (unit tests of aged rows). */
export class ManualClock implements Clock {
  constructor(private time = Date.now()) {}

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }
}

/**
 * Real time plus whatever the test moved it by: a server given this clock behaves as on the
 * wall clock until the test skips ahead (an hour of GC grace in a moment), and files written
 * meanwhile keep comparable times.
 */
export class ShiftedClock implements Clock {
  private offset = 0;

  now(): number {
    return Date.now() + this.offset;
  }

  advance(ms: number): void {
    this.offset += ms;
  }
}
