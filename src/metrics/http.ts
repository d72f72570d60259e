import { Counter, Gauge, Histogram } from "prom-client";
import { cached, metricsRegistry } from "./registry.js";

/**
 * HTTP traffic. `route` is the matched route pattern (e.g. /v2/*name/blobs/:digest), never the
 * raw path: repository names and digests would make the label set unbounded.
 */
export const httpRequests = new Counter({
  name: "dvcr_http_requests_total",
  help: "HTTP requests answered, by route pattern, method and status code",
  labelNames: ["route", "method", "status"] as const,
  registers: [metricsRegistry],
});

export const httpRequestDuration = new Histogram({
  name: "dvcr_http_request_duration_seconds",
  help: "Time from request start until the response was fully sent, by route pattern and method",
  labelNames: ["route", "method"] as const,
  // Manifests answer in milliseconds; multi-GiB disk layers stream for minutes.
  buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
  registers: [metricsRegistry],
});

export const httpReceivedBytes = new Counter({
  name: "dvcr_http_received_bytes_total",
  help: "Bytes received from clients (headers and bodies), by route pattern",
  labelNames: ["route"] as const,
  registers: [metricsRegistry],
});

export const httpSentBytes = new Counter({
  name: "dvcr_http_sent_bytes_total",
  help: "Bytes sent to clients (headers and bodies), by route pattern",
  labelNames: ["route"] as const,
  registers: [metricsRegistry],
});

export const uploadsInProgress = new Gauge({
  name: "dvcr_uploads_in_progress",
  help: "Requests streaming blob bytes into the registry right now",
  registers: [metricsRegistry],
});

/** The label children of one route and method, made once: prom-client hashes labels per call. */
interface RouteMetrics {
  duration: ReturnType<typeof httpRequestDuration.labels>;
  received: ReturnType<typeof httpReceivedBytes.labels>;
  sent: ReturnType<typeof httpSentBytes.labels>;
  byStatus: Map<string, ReturnType<typeof httpRequests.labels>>;
}

const routeChildren = new Map<string, RouteMetrics>();

/** Record one answered request under its route pattern. */
export function recordHttpRequest(route: string, method: string, status: string, seconds: number, received: number, sent: number): void {
  const m = cached(routeChildren, `${method} ${route}`, () => ({
    duration: httpRequestDuration.labels({ route, method }),
    received: httpReceivedBytes.labels({ route }),
    sent: httpSentBytes.labels({ route }),
    byStatus: new Map(),
  }));
  cached(m.byStatus, status, () => httpRequests.labels({ route, method, status })).inc();
  m.duration.observe(seconds);
  m.received.inc(received);
  m.sent.inc(sent);
}
