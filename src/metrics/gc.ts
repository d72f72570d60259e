import { Counter, Gauge, Histogram } from "prom-client";
import { metricsRegistry } from "./registry.js";

/** Garbage collection runs (scheduled, API and CLI alike) and what they reclaimed. */
export const gcRuns = new Counter({
  name: "dvcr_gc_runs_total",
  help: "Garbage collection runs, by result (success, failure) and mode (sweep, dry_run)",
  labelNames: ["result", "mode"] as const,
  registers: [metricsRegistry],
});

export const gcDuration = new Histogram({
  name: "dvcr_gc_duration_seconds",
  help: "Duration of garbage collection runs",
  buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
  registers: [metricsRegistry],
});

export const gcFreedBytes = new Counter({
  name: "dvcr_gc_freed_bytes_total",
  help: "Bytes reclaimed by garbage collection, by kind (blob, orphan, upload)",
  labelNames: ["kind"] as const,
  registers: [metricsRegistry],
});

export const gcDeleted = new Counter({
  name: "dvcr_gc_deleted_total",
  help: "Objects deleted by garbage collection, by kind (repository, manifest, blob, orphan, upload)",
  labelNames: ["kind"] as const,
  registers: [metricsRegistry],
});

export const gcLastSuccess = new Gauge({
  name: "dvcr_gc_last_success_timestamp_seconds",
  help: "Unix time at which the last successful (non-dry) garbage collection finished",
  registers: [metricsRegistry],
});
