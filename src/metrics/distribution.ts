import { Counter, Gauge, Histogram } from "prom-client";
import { cached, metricsRegistry } from "./registry.js";

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

/**
 * distribution's route name for a request path, or undefined for routes it does not have. Plain
 * string searches: this runs for every request, and the last path segments decide.
 */
export function distributionHandler(path: string): DistributionHandler | undefined {
  if (path === "/v2/" || path === "/v2") return "base";
  if (!path.startsWith("/v2/")) return undefined;
  if (path === "/v2/_catalog") return "catalog";
  if (path.endsWith("/tags/list")) return "tags";
  // The route's keyword is the last one in the path (a repository may be named x/blobs/y).
  const manifests = path.lastIndexOf("/manifests/");
  const blobs = path.lastIndexOf("/blobs/");
  const referrers = path.lastIndexOf("/referrers/");
  const last = Math.max(manifests, blobs, referrers, path.endsWith("/blobs/uploads") ? path.length : -1);
  if (last <= 3) return undefined;
  if (last === manifests) return "manifest";
  if (last === referrers) return "referrers";
  const rest = path.slice(last === path.length ? path.length : blobs + "/blobs/".length);
  if (last === path.length || rest === "uploads/") return "blob_upload";
  return rest.startsWith("uploads/") ? "blob_upload_chunk" : "blob";
}

/** The label children of one handler and method, made once: prom-client hashes labels per call. */
interface HandlerMetrics {
  inFlight: ReturnType<typeof registryInFlight.labels>;
  duration: ReturnType<typeof registryRequestDuration.labels>;
  requestSize: ReturnType<typeof registryRequestSize.labels>;
  responseSize: ReturnType<typeof registryResponseSize.labels>;
  byCode: Map<string, ReturnType<typeof registryRequests.labels>>;
}

const children = new Map<string, HandlerMetrics>();

function metricsOf(handler: DistributionHandler, method: string): HandlerMetrics {
  return cached(children, `${handler} ${method}`, () => ({
    inFlight: registryInFlight.labels({ handler }),
    duration: registryRequestDuration.labels({ handler, method }),
    requestSize: registryRequestSize.labels({ handler }),
    responseSize: registryResponseSize.labels({ handler }),
    byCode: new Map(),
  }));
}

/** One request in distribution's families: counted in flight now, the rest when `done`. */
export function distributionRequest(path: string, method: string): ((code: string, seconds: number, received: number, sent: number) => void) | undefined {
  const handler = distributionHandler(path);
  if (!handler) return undefined;
  const m = metricsOf(handler, method);
  m.inFlight.inc();
  return (code, seconds, received, sent) => {
    m.inFlight.dec();
    cached(m.byCode, code, () => registryRequests.labels({ handler, code, method })).inc();
    m.duration.observe(seconds);
    m.requestSize.observe(received);
    m.responseSize.observe(sent);
  };
}
