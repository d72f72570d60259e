/**
 * Brute-force brake: each client address has a bucket of `burst` failed authentications that
 * refills at `perMinute`. While the bucket is empty, credentials from that address are not even
 * checked (429 TOOMANYREQUESTS): answering them would still tell a guesser which one was right.
 */
export class FailureLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(
    private readonly burst: number,
    perMinute: number,
    /** Bound on remembered addresses, so a flood of sources cannot grow memory without end. */
    private readonly maxClients = 100_000,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
  }

  private level(client: string): number {
    const bucket = this.buckets.get(client);
    if (!bucket) return this.burst;
    return Math.min(this.burst, bucket.tokens + (this.now() - bucket.at) * this.perMs);
  }

  /** Seconds until the client may try again, or 0 when it may try now. */
  retryAfter(client: string): number {
    const level = this.level(client);
    return level >= 1 ? 0 : Math.ceil((1 - level) / this.perMs / 1000);
  }

  recordFailure(client: string): void {
    const tokens = Math.max(0, this.level(client) - 1);
    this.buckets.delete(client); // re-insert: Map order is then least recently failed first
    // The least recently failed address is the one most likely refilled by now.
    if (this.buckets.size >= this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(client, { tokens, at: this.now() });
  }
}
