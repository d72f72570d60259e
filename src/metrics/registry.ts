import { Registry, collectDefaultMetrics } from "prom-client";

/**
 * The one prom-client registry of dvcr. Every metric is defined in src/metrics/ and registered
 * here; /metrics (http/) serves it. Names follow Prometheus conventions: dvcr_…_total for
 * counters, _seconds and _bytes units.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });
