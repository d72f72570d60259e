import { Gauge, Registry } from "prom-client";

/**
 * The gauges DVCR's importer serves and its controller scrapes every second, labelled with the
 * owner's UID. A registry of their own: `dvcr import` runs as its own process (a pod) and serves
 * only these.
 */
export const importerMetricsRegistry = new Registry();

export const importProgress = new Gauge({
  name: "registry_progress",
  help: "Import progress in percent (0-100)",
  labelNames: ["ownerUID"] as const,
  registers: [importerMetricsRegistry],
});

export const importCurrentSpeed = new Gauge({
  name: "registry_current_speed",
  help: "Current import speed in bytes per second",
  labelNames: ["ownerUID"] as const,
  registers: [importerMetricsRegistry],
});

export const importAverageSpeed = new Gauge({
  name: "registry_average_speed",
  help: "Average import speed in bytes per second",
  labelNames: ["ownerUID"] as const,
  registers: [importerMetricsRegistry],
});
