import { Counter, Gauge, Histogram } from "prom-client";
import { metricsRegistry } from "./registry.js";

/**
 * The HTTP families the CNCF distribution registry exports (docker/go-metrics, namespace
 * `registry`, subsystem `http`, one `handler` per route), with its names, labels and buckets,
 * so that dashboards and alerts written for the registry DVCR ran before keep working. Our own,
 * finer `dvcr_http_*` families sit beside them.
 */
export type DistributionHandler = "base" | "catalog" | "manifest" | "tags" | "blob" | "blob_upload" | "blob_upload_chunk" | "referrers";

/** 1 KiB to 4 GiB, doubling: go-metrics' request and response size buckets. */
const SIZE_BUCKETS = Array.from({ length: 22 }, (_, i) => 1024 * 2 ** i);

export const registryInFlight = new Gauge({
  name: "registry_http_in_flight_requests",
  help: "The in-flight HTTP requests",
  labelNames: ["handler"] as const,
  registers: [metricsRegistry],
});

export const registryRequests = new Counter({
  name: "registry_http_requests_total",
  help: "Total number of HTTP requests made.",
  labelNames: ["handler", "code", "method"] as const,
  registers: [metricsRegistry],
});

export const registryRequestDuration = new Histogram({
  name: "registry_http_request_duration_seconds",
  help: "The HTTP request latencies in seconds.",
  labelNames: ["handler", "method"] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60],
  registers: [metricsRegistry],
});

function sizeHistogram(name: string, help: string): Histogram<"handler"> {
  return new Histogram({ name, help, labelNames: ["handler"] as const, buckets: SIZE_BUCKETS, registers: [metricsRegistry] });
}

export const registryRequestSize = sizeHistogram("registry_http_request_size_bytes", "The HTTP request sizes in bytes.");
export const registryResponseSize = sizeHistogram("registry_http_response_size_bytes", "The HTTP response sizes in bytes.");

const NAME = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*";
const ROUTES: [RegExp, DistributionHandler][] = [
  [/^\/v2\/?$/, "base"],
  [/^\/v2\/_catalog$/, "catalog"],
  [new RegExp(`^/v2/${NAME}/manifests/[^/]+$`), "manifest"],
  [new RegExp(`^/v2/${NAME}/tags/list$`), "tags"],
  [new RegExp(`^/v2/${NAME}/blobs/uploads/?$`), "blob_upload"],
  [new RegExp(`^/v2/${NAME}/blobs/uploads/[^/]+$`), "blob_upload_chunk"],
  [new RegExp(`^/v2/${NAME}/blobs/[^/]+$`), "blob"],
  [new RegExp(`^/v2/${NAME}/referrers/[^/]+$`), "referrers"],
];

/** distribution's route name for a request path, or undefined for routes it does not have. */
export function distributionHandler(path: string): DistributionHandler | undefined {
  if (!path.startsWith("/v2")) return undefined;
  for (const [pattern, handler] of ROUTES) if (pattern.test(path)) return handler;
  return undefined;
}
