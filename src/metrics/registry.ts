import { Registry, collectDefaultMetrics } from "prom-client";

/**
 * The one prom-client registry of dvcr. Every metric is defined in src/metrics/ and registered
 * here; /metrics (http/) serves it. Names follow Prometheus conventions: dvcr_…_total for
 * counters, _seconds and _bytes units.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

/**
 * The value cached under `key`, made by `make` the first time. For prom-client label children:
 * `metric.labels({...})` hashes its labels on every call, a cached child does not.
 */
export function cached<V>(cache: Map<string, V>, key: string, make: () => V): V {
  let value = cache.get(key);
  if (value === undefined) cache.set(key, (value = make()));
  return value;
}
