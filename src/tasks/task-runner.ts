import type { Logger } from "pino";
import { TaskSchedule } from "./schedule.js";
import { Task, type TaskDefinition, type TaskEvent, type TaskStatus } from "./task.js";

/** A task as /api/v1/tasks shows it: its status, and its schedule when it has one. */
export interface TaskOverview extends TaskStatus {
  /** The cron pattern, `off`, or null for a task that only runs when work is queued. */
  schedule: string | null;
  nextRun: string | null;
}

export type TaskListener = (event: TaskEvent) => void;

interface Entry {
  task: Task<never, unknown>;
  schedule?: TaskSchedule<never>;
}

/**
 * Every background task of one registry: defined once at assembly (GC, scrub, the disk index
 * passes, later the importer), listed by /api/v1/tasks, scheduled by cron where a schedule is
 * configured, stopped together at shutdown. Listeners receive every task's events.
 */
export class TaskRunner {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<TaskListener>();
  private started = false;

  constructor(private readonly logger: Logger) {}

  /** Define a task; with `schedule`, it also runs on that cron pattern once the runner starts. */
  define<P, R>(definition: TaskDefinition<P, R>, schedule?: { pattern: string; params: () => P }): Task<P, R> {
    if (this.entries.has(definition.name)) throw new Error(`task ${definition.name} is defined twice`);
    const task = new Task(definition, (event) => this.emit(event), this.logger);
    const entry: Entry = { task: task as unknown as Task<never, unknown> };
    if (schedule) entry.schedule = new TaskSchedule(task, schedule.pattern, schedule.params, this.logger) as unknown as TaskSchedule<never>;
    this.entries.set(definition.name, entry);
    if (this.started) entry.schedule?.start();
    return task;
  }

  /** Receive every task's events; returns the function that stops them. */
  onEvent(listener: TaskListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Start the schedules (a serving registry; the offline CLI runs tasks without them). */
  start(): void {
    this.started = true;
    for (const { schedule } of this.entries.values()) schedule?.start();
  }

  /** Stop the schedules, abort every run and wait for them. */
  async stop(): Promise<void> {
    this.started = false;
    for (const { schedule } of this.entries.values()) schedule?.stop();
    await Promise.all([...this.entries.values()].map(({ task }) => task.stop()));
  }

  list(): TaskOverview[] {
    return [...this.entries.values()].map(({ task, schedule }) => ({
      ...task.status(),
      schedule: schedule?.pattern ?? null,
      nextRun: schedule?.nextRun()?.toISOString() ?? null,
    }));
  }

  private emit(event: TaskEvent): void {
    if (event.type !== "progress") this.logger.debug({ task: event.task, run: event.run.id, key: event.run.key, event: event.type }, `task ${event.type}`);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.warn({ err, task: event.task }, "a task event listener failed");
      }
    }
  }
}
