import { Counter, Gauge, Histogram } from "prom-client";
import { metricsRegistry } from "./registry.js";

/** Runs of every background task (tasks/): GC, scrub, the disk index passes, imports. */
export const taskRuns = new Counter({
  name: "dvcr_task_runs_total",
  help: "Finished runs of background tasks, by task and result (success, failure, cancelled)",
  labelNames: ["task", "result"] as const,
  registers: [metricsRegistry],
});

export const taskDuration = new Histogram({
  name: "dvcr_task_duration_seconds",
  help: "Duration of background task runs, by task",
  labelNames: ["task"] as const,
  buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200],
  registers: [metricsRegistry],
});

export const taskRunning = new Gauge({
  name: "dvcr_task_running",
  help: "Runs of a background task in progress",
  labelNames: ["task"] as const,
  registers: [metricsRegistry],
});

export const taskQueued = new Gauge({
  name: "dvcr_task_queued",
  help: "Runs of a background task waiting for their turn",
  labelNames: ["task"] as const,
  registers: [metricsRegistry],
});
