import { Counter, Gauge, Histogram } from "prom-client";
import { cached, metricsRegistry } from "./registry.js";

/**
 * The HTTP families the CNCF distribution registry exports (docker/go-metrics, namespace
 * `registry`, subsystem `http`, one `handler` per route), with its names, labels and buckets,
 * so that dashboards and alerts written for the registry DVCR ran before keep working. Our own,
 * finer `dvcr_http_*` families sit beside them. `handler` is distribution's route name, which
 * the HTTP layer's route table declares with each route.
 */
export type DistributionHandler = string;

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
export function distributionRequest(handler: DistributionHandler, method: string): (code: string, seconds: number, received: number, sent: number) => void {
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
