import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { taskDuration, taskQueued, taskRunning, taskRuns } from "../metrics/tasks.js";

/** Who asked for a run. */
export type TaskTrigger = "schedule" | "api" | "cli" | "push" | "startup";

/** What a run reports while it goes (an import: bytes so far of how many; GC: the step). */
export type TaskProgress = Record<string, string | number | boolean | null>;

export interface TaskRunRecord<R = unknown> {
  id: string;
  trigger: TaskTrigger;
  /** The job's key (a queued task's: e.g. the manifest digest being indexed). */
  key?: string;
  startedAt: string;
  finishedAt?: string;
  durationSeconds?: number;
  progress?: TaskProgress;
  result?: R;
  error?: string;
  cancelled?: boolean;
}

export type TaskEvent =
  | { type: "started"; task: string; run: TaskRunRecord }
  | { type: "progress"; task: string; run: TaskRunRecord; progress: TaskProgress }
  | { type: "finished"; task: string; run: TaskRunRecord }
  | { type: "failed"; task: string; run: TaskRunRecord; error: unknown };

export interface TaskContext {
  /** Aborted when the run is cancelled or the registry shuts down: stop at the next step. */
  readonly signal: AbortSignal;
  readonly run: Readonly<TaskRunRecord>;
  /** Report how far the run got (shown by /api/v1/tasks, sent as a progress event). */
  progress(update: TaskProgress): void;
}

export interface TaskDefinition<P, R> {
  name: string;
  work(params: P, context: TaskContext): Promise<R>;
  /** Runs at once (default 1: runs are serialised, a second request waits for the first). */
  concurrency?: number;
  /** Runs kept waiting; beyond it `submit` refuses (default: no bound). */
  capacity?: number;
  /** Keep each run's result in `last` (default true; off for jobs whose results are rows elsewhere). */
  keepResult?: boolean;
}

export interface TaskStatus {
  name: string;
  /** Some run is in progress. */
  running: boolean;
  /** Runs waiting for their turn. */
  queued: number;
  /** The oldest run in progress, with its progress. */
  current?: TaskRunRecord;
  last?: TaskRunRecord;
  totals: { succeeded: number; failed: number; cancelled: number };
}

/** A run handed to a task: its record, its outcome, and how to stop it. */
export interface TaskRun<R> {
  readonly record: Readonly<TaskRunRecord<R>>;
  readonly done: Promise<R>;
  cancel(reason?: string): void;
}

interface Pending<P, R> {
  key: string;
  params: P;
  record: TaskRunRecord<R>;
  done: Promise<R>;
  controller: AbortController;
  resolve(result: R): void;
  reject(err: unknown): void;
}

export class TaskCancelledError extends Error {
  constructor(task: string, reason: string) {
    super(`${task} cancelled: ${reason}`);
    this.name = "TaskCancelledError";
  }
}

/**
 * A background unit of work as a first-class, observable thing (zot's model): GC and scrub
 * (serialised runs, awaited by whoever asked), the disk index passes (keyed jobs, bounded queue,
 * bounded concurrency), the importer (queued, with progress, cancellable). Every run is
 * recorded, counted in the metrics and announced as events; stopping aborts what runs and
 * refuses what comes.
 */
export class Task<P, R> {
  private readonly waiting = new Map<string, Pending<P, R>>();
  private readonly active = new Map<string, Pending<P, R>>();
  private readonly concurrency: number;
  private readonly capacity: number;
  private readonly stopping = new AbortController();
  private idleWaiters: (() => void)[] = [];
  private last: TaskRunRecord<R> | undefined;
  private readonly totals = { succeeded: 0, failed: 0, cancelled: 0 };

  constructor(
    private readonly definition: TaskDefinition<P, R>,
    private readonly emit: (event: TaskEvent) => void,
    private readonly logger: Logger,
  ) {
    this.concurrency = definition.concurrency ?? 1;
    this.capacity = definition.capacity ?? Number.POSITIVE_INFINITY;
  }

  get name(): string {
    return this.definition.name;
  }

  get running(): boolean {
    return this.active.size > 0;
  }

  /** Runs waiting or in progress. */
  get size(): number {
    return this.waiting.size + this.active.size;
  }

  /** Whether a run with this key waits or is in progress. */
  has(key: string): boolean {
    return this.waiting.has(key) || this.active.has(key);
  }

  /**
   * Queue a run. With a `key`, a run already waiting or in progress under it is returned
   * instead of queueing a second. Undefined when the queue is full or the task stopped.
   */
  submit(params: P, options: { trigger: TaskTrigger; key?: string }): TaskRun<R> | undefined {
    if (this.stopping.signal.aborted) return undefined;
    const key = options.key ?? randomUUID();
    const existing = this.waiting.get(key) ?? this.active.get(key);
    if (existing) return this.handle(existing);
    if (this.waiting.size >= this.capacity) return undefined;
    let resolve!: (result: R) => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<R>((res, rej) => ((resolve = res), (reject = rej)));
    // Nobody need wait for a queued job: its failure is recorded, logged and counted here.
    done.catch(() => undefined);
    const record: TaskRunRecord<R> = { id: randomUUID(), trigger: options.trigger, ...(options.key !== undefined ? { key } : {}), startedAt: "" };
    const pending: Pending<P, R> = { key, params, record, done, controller: new AbortController(), resolve, reject };
    this.waiting.set(key, pending);
    taskQueued.set({ task: this.name }, this.waiting.size);
    // Start on a later turn: a request handler that queues work returns first.
    setImmediate(() => this.pump());
    return this.handle(pending);
  }

  /** Run and wait for the result (the API's and the CLI's GC and scrub). */
  run(params: P, trigger: TaskTrigger): Promise<R> {
    const run = this.submit(params, { trigger });
    if (!run) return Promise.reject(new TaskCancelledError(this.name, "the registry is shutting down"));
    return run.done;
  }

  /** Cancel a run by id, waiting or in progress; whether one was found. */
  cancel(runId: string, reason = "cancelled on request"): boolean {
    for (const pending of [...this.waiting.values(), ...this.active.values()]) {
      if (pending.record.id === runId) {
        this.handle(pending).cancel(reason);
        return true;
      }
    }
    return false;
  }

  /** Resolves when nothing waits or runs. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  status(): TaskStatus {
    const current = this.active.values().next().value as Pending<P, R> | undefined;
    return {
      name: this.name,
      running: this.running,
      queued: this.waiting.size,
      ...(current ? { current: current.record } : {}),
      ...(this.last ? { last: this.last } : {}),
      totals: { ...this.totals },
    };
  }

  /** Drop what waits, abort what runs, refuse what comes; resolves once the running runs ended. */
  async stop(reason = "the registry is shutting down"): Promise<void> {
    this.stopping.abort();
    for (const pending of [...this.waiting.values()]) this.handle(pending).cancel(reason);
    const running = [...this.active.values()];
    for (const pending of running) pending.controller.abort(new TaskCancelledError(this.name, reason));
    await Promise.allSettled(running.map((p) => p.done));
    this.settle();
  }

  private handle(pending: Pending<P, R>): TaskRun<R> {
    return {
      record: pending.record,
      done: pending.done,
      cancel: (reason = "cancelled on request") => {
        if (this.waiting.get(pending.key) === pending) {
          this.waiting.delete(pending.key);
          taskQueued.set({ task: this.name }, this.waiting.size);
          pending.record.cancelled = true;
          this.totals.cancelled++;
          taskRuns.inc({ task: this.name, result: "cancelled" });
          pending.reject(new TaskCancelledError(this.name, reason));
          this.settle();
          return;
        }
        pending.controller.abort(new TaskCancelledError(this.name, reason));
      },
    };
  }

  private pump(): void {
    while (!this.stopping.signal.aborted && this.active.size < this.concurrency && this.waiting.size > 0) {
      const pending = this.waiting.values().next().value as Pending<P, R>;
      const { key } = pending;
      this.waiting.delete(key);
      this.active.set(key, pending);
      taskQueued.set({ task: this.name }, this.waiting.size);
      taskRunning.set({ task: this.name }, this.active.size);
      void this.execute(pending);
    }
  }

  private async execute(pending: Pending<P, R>): Promise<void> {
    const { record, controller } = pending;
    const started = Date.now();
    record.startedAt = new Date(started).toISOString();
    const context: TaskContext = {
      signal: controller.signal,
      run: record,
      progress: (update) => {
        record.progress = { ...record.progress, ...update };
        this.emit({ type: "progress", task: this.name, run: record, progress: update });
      },
    };
    this.emit({ type: "started", task: this.name, run: record });
    try {
      controller.signal.throwIfAborted();
      const result = await this.definition.work(pending.params, context);
      if (this.definition.keepResult !== false) record.result = result;
      this.finish(pending, started, "success");
      this.emit({ type: "finished", task: this.name, run: record });
      pending.resolve(result);
    } catch (err) {
      record.error = (err as Error).message;
      const cancelled = controller.signal.aborted;
      if (cancelled) record.cancelled = true;
      this.finish(pending, started, cancelled ? "cancelled" : "failure");
      if (!cancelled) this.logger.error({ task: this.name, trigger: record.trigger, key: record.key, err }, `${this.name} failed`);
      this.emit({ type: "failed", task: this.name, run: record, error: err });
      pending.reject(err);
    }
    this.pump();
    this.settle();
  }

  /** Book the run as done before anyone waiting on it resumes: a caller's next look at the status sees it finished. */
  private finish(pending: Pending<P, R>, started: number, result: "success" | "failure" | "cancelled"): void {
    const { record } = pending;
    this.active.delete(pending.key);
    taskRunning.set({ task: this.name }, this.active.size);
    record.finishedAt = new Date().toISOString();
    record.durationSeconds = (Date.now() - started) / 1000;
    this.totals[result === "success" ? "succeeded" : result === "failure" ? "failed" : "cancelled"]++;
    taskRuns.inc({ task: this.name, result });
    taskDuration.observe({ task: this.name }, record.durationSeconds);
    this.last = record;
  }

  private settle(): void {
    if (this.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
