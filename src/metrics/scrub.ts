import { Counter, Gauge, Histogram } from "prom-client";
import { metricsRegistry } from "./registry.js";

/** Integrity scrubs: every stored blob re-hashed against its digest. */
export const scrubRuns = new Counter({
  name: "dvcr_scrub_runs_total",
  help: "Scrub runs, by result (success, failure)",
  labelNames: ["result"] as const,
  registers: [metricsRegistry],
});

export const scrubDuration = new Histogram({
  name: "dvcr_scrub_duration_seconds",
  help: "Duration of scrub runs",
  buckets: [0.1, 1, 10, 60, 300, 1800, 3600, 4 * 3600],
  registers: [metricsRegistry],
});

export const scrubCheckedBlobs = new Counter({
  name: "dvcr_scrub_checked_blobs_total",
  help: "Blobs re-hashed by scrubs",
  registers: [metricsRegistry],
});

export const scrubCheckedBytes = new Counter({
  name: "dvcr_scrub_checked_bytes_total",
  help: "Bytes re-hashed by scrubs",
  registers: [metricsRegistry],
});

export const scrubCorruptBlobs = new Gauge({
  name: "dvcr_scrub_corrupt_blobs",
  help: "Blobs whose bytes did not match their digest (or were missing) in the last scrub",
  registers: [metricsRegistry],
});

export const scrubQuarantinedBlobs = new Counter({
  name: "dvcr_scrub_quarantined_blobs_total",
  help: "Corrupt or missing blobs taken out of service by scrub --repair",
  registers: [metricsRegistry],
});

export const scrubLastRun = new Gauge({
  name: "dvcr_scrub_last_run_timestamp_seconds",
  help: "Unix time at which the last scrub finished",
  registers: [metricsRegistry],
});
