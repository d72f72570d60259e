import type Router from "@koa/router";
import { metricsRegistry } from "../../metrics/registry.js";
import { checkReadiness } from "../../registry/readiness.js";
import type { ReadinessPort } from "../../registry/readiness.js";

/**
 * Probes and metrics, outside /v2/: Kubernetes and Prometheus call them without credentials,
 * so they are open whatever authentication is configured, and they reveal no repository data.
 */
export const PUBLIC_PATHS = ["/healthz", "/readyz", "/metrics"] as const;

export function healthRoutes(router: Router, registry: ReadinessPort): void {
  // Liveness: the process answers. Nothing else, so a full or slow disk never gets us restarted.
  router.get("/healthz", async (ctx) => {
    ctx.body = { status: "ok" };
  });

  router.get("/readyz", async (ctx) => {
    const readiness = await checkReadiness(registry);
    ctx.status = readiness.ready ? 200 : 503;
    ctx.body = readiness;
  });

  router.get("/metrics", async (ctx) => {
    ctx.type = metricsRegistry.contentType;
    ctx.body = await metricsRegistry.metrics();
  });
}
