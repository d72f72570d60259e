/**
 * A bounded queue of keyed jobs run with bounded concurrency. A key already queued or running
 * is not queued twice; when the queue is full, `push` says so and the caller decides (the
 * indexer falls back to a database scan, so nothing is lost and memory stays bounded).
 */
export class WorkQueue<T> {
  private readonly waiting = new Map<string, T>();
  private readonly running = new Set<string>();
  private idleWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly run: (key: string, item: T) => Promise<void>,
    private readonly options: { concurrency: number; capacity: number },
  ) {}

  /** Queue `item` under `key`: true if queued (or already queued/running), false if full. */
  push(key: string, item: T): boolean {
    if (this.stopped) return false;
    if (this.waiting.has(key) || this.running.has(key)) return true;
    if (this.waiting.size >= this.options.capacity) return false;
    this.waiting.set(key, item);
    // Start on a later turn: a caller pushing from a request handler returns first.
    setImmediate(() => this.pump());
    return true;
  }

  has(key: string): boolean {
    return this.waiting.has(key) || this.running.has(key);
  }

  get size(): number {
    return this.waiting.size + this.running.size;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drop what waits; running jobs finish (their owner aborts them). */
  stop(): void {
    this.stopped = true;
    this.waiting.clear();
    this.settle();
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.options.concurrency && this.waiting.size > 0) {
      const [key, item] = this.waiting.entries().next().value as [string, T];
      this.waiting.delete(key);
      this.running.add(key);
      this.run(key, item)
        .catch(() => undefined) // the job reports its own failures; the queue only schedules
        .finally(() => {
          this.running.delete(key);
          this.pump();
          this.settle();
        });
    }
  }

  private settle(): void {
    if (this.size > 0 && !this.stopped) return;
    if (this.running.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
