import type { Context } from "koa";
import { metricsRegistry } from "../../metrics/registry.js";
import { checkReadiness } from "../../registry/readiness.js";
import type { ReadinessPort } from "../../registry/readiness.js";
import type { RouteDescriptor } from "../route-table.js";

/**
 * Probes and metrics, outside /v2/: Kubernetes and Prometheus call them without credentials,
 * so they are public whatever authentication is configured, and they reveal no repository data.
 */
export function healthRoutes(registry: ReadinessPort): RouteDescriptor[] {
  // Liveness: the process answers. Nothing else, so a full or slow disk never gets us restarted.
  const healthz = async (ctx: Context) => {
    ctx.body = { status: "ok" };
  };

  // A readiness report, not an error: the probe reads the status, people read the checks.
  const readyz = async (ctx: Context) => {
    const readiness = await checkReadiness(registry);
    ctx.status = readiness.ready ? 200 : 503;
    ctx.body = readiness;
  };

  const metrics = async (ctx: Context) => {
    ctx.type = metricsRegistry.contentType;
    ctx.body = await metricsRegistry.metrics();
  };

  return [
    { name: "healthz", path: "/healthz", access: "public", handlers: { GET: healthz } },
    { name: "readyz", path: "/readyz", access: "public", handlers: { GET: readyz } },
    { name: "metrics", path: "/metrics", access: "public", handlers: { GET: metrics } },
  ];
}
