import type { Logger } from "pino";

export type TaskTrigger = "schedule" | "api" | "cli";

export interface TaskRunRecord<R> {
  trigger: TaskTrigger;
  startedAt: string;
  finishedAt?: string;
  durationSeconds?: number;
  result?: R;
  error?: string;
}

export interface TaskStatus<R> {
  name: string;
  running: boolean;
  current?: TaskRunRecord<R>;
  last?: TaskRunRecord<R>;
}

/**
 * A background unit of work (GC, scrub) as a first-class, observable thing: runs are
 * serialised (a second request waits for the first, then runs with its own parameters), the
 * current and last run are reported, and shutdown aborts a run between its steps.
 */
export class BackgroundTask<P, R> {
  private tail: Promise<unknown> = Promise.resolve();
  private current: TaskRunRecord<R> | undefined;
  private last: TaskRunRecord<R> | undefined;
  private readonly abort = new AbortController();

  constructor(
    readonly name: string,
    private readonly work: (params: P, signal: AbortSignal) => Promise<R>,
    private readonly logger: Logger,
  ) {}

  get running(): boolean {
    return this.current !== undefined;
  }

  run(params: P, trigger: TaskTrigger): Promise<R> {
    const next = this.tail.then(() => this.execute(params, trigger));
    this.tail = next.catch(() => undefined);
    return next;
  }

  status(): TaskStatus<R> {
    return { name: this.name, running: this.running, ...(this.current ? { current: this.current } : {}), ...(this.last ? { last: this.last } : {}) };
  }

  /** Abort the running run (if any) and wait until it has stopped; later runs are refused. */
  async stop(): Promise<void> {
    this.abort.abort(new Error(`${this.name} stopped: the registry is shutting down`));
    await this.tail;
  }

  private async execute(params: P, trigger: TaskTrigger): Promise<R> {
    this.abort.signal.throwIfAborted();
    const started = Date.now();
    const record: TaskRunRecord<R> = { trigger, startedAt: new Date(started).toISOString() };
    this.current = record;
    try {
      record.result = await this.work(params, this.abort.signal);
      return record.result;
    } catch (err) {
      record.error = (err as Error).message;
      this.logger.error({ task: this.name, trigger, err }, `${this.name} failed`);
      throw err;
    } finally {
      record.finishedAt = new Date().toISOString();
      record.durationSeconds = (Date.now() - started) / 1000;
      this.current = undefined;
      this.last = record;
    }
  }
}
