import { Cron } from "croner";
import type { Logger } from "pino";
import { CRON_MODE, SCHEDULE_OFF } from "../config/schedule.js";
import type { Task } from "./task.js";

/**
 * Run a task on a cron schedule (validated with the configuration), in the process's local
 * time zone. A tick that finds the task still running or queued (a long GC, an API-triggered
 * run) is skipped rather than queued: the next run would find nothing new to do.
 */
export class TaskSchedule<P> {
  private job: Cron | undefined;

  constructor(
    private readonly task: Task<P, unknown>,
    readonly pattern: string,
    private readonly params: () => P,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.pattern === SCHEDULE_OFF || this.job) return;
    this.job = new Cron(this.pattern, { mode: CRON_MODE, unref: true }, () => this.tick());
  }

  stop(): void {
    this.job?.stop();
    this.job = undefined;
  }

  nextRun(): Date | null {
    return this.job?.nextRun() ?? null;
  }

  private tick(): void {
    if (this.task.size > 0) {
      this.logger.warn({ task: this.task.name }, `scheduled ${this.task.name} skipped: the previous run is still going`);
      return;
    }
    // Failures are logged and recorded by the task; a scheduled run has nobody else to tell.
    this.task.run(this.params(), "schedule").catch(() => undefined);
  }
}
