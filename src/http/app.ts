import { randomUUID } from "node:crypto";
import Koa, { type Context, type Next } from "koa";
import type { Logger } from "pino";
import { RegistryError } from "../oci/index.js";
import type { OpenRegistry } from "../assembly/open-registry.js";
import { allows } from "../auth/policy.js";
import type { AuthService } from "../auth/service.js";
import { routeAuthorization, subjectOf } from "./auth-middleware.js";
import { errorMiddleware } from "./errors.js";
import { responseSending } from "./idle-timeouts.js";
import { httpMetrics } from "./metrics-middleware.js";
import { METHODS, RouteTable, type RouteDescriptor } from "./route-table.js";
import { authRoutes } from "./routes/auth.js";
import { blobRoutes } from "./routes/blobs.js";
import type { RouteDeps } from "./routes/context.js";
import { discoveryRoutes } from "./routes/discovery.js";
import { healthRoutes } from "./routes/health.js";
import { imageRoutes } from "./routes/images.js";
import { opsRoutes } from "./routes/ops.js";
import { manifestRoutes } from "./routes/manifests.js";
import { uploadRoutes } from "./routes/uploads.js";
import type { Operations } from "../gc/operations.js";
import type { CviService } from "../cvi/service.js";
import { cviUploadRoutes } from "./routes/cvi-uploads.js";
import { kubeRoutes } from "./routes/kube.js";

/** Log one line per request; never headers (they may carry credentials) and never bodies. */
function accessLog(logger: Logger) {
  return async function logRequest(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    const incoming = ctx.get("X-Request-Id");
    ctx.state.requestId = /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    ctx.set("X-Request-Id", ctx.state.requestId as string);
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.debug(
        { reqId: ctx.state.requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 },
        "request",
      );
    }
  };
}

/**
 * The handler is done and the response goes out: to a client that must keep reading
 * (idle-timeouts.ts). A request body not yet received to the end (refused mid-way: a chunked
 * manifest over the limit, an upload on a full disk, or simply not read) closes the connection
 * after the response, so that the next request on it never waits behind the rest of the body.
 */
async function respondPhase(ctx: Context, next: Next): Promise<void> {
  await next();
  if (!ctx.req.complete) ctx.set("Connection", "close");
  responseSending(ctx.res);
}

async function apiVersion(ctx: Context, next: Next): Promise<void> {
  // Spec "API version check": clients may require this header on every /v2/ response.
  ctx.set("Docker-Distribution-API-Version", "registry/2.0");
  await next();
}

/**
 * What no route answered: 405 with `Allow` where a route has this path (and for a method no
 * route has at all), else 404; both with a spec error body. OPTIONS lists the methods.
 */
function unmatched(table: RouteTable) {
  return async function noRoute(ctx: Context): Promise<void> {
    const allowed = table.allowedOn(ctx.path);
    if (ctx.method === "OPTIONS" && allowed.length > 0) {
      ctx.set("Allow", allowed.join(", "));
      ctx.body = "";
      return;
    }
    if (allowed.length > 0 || !(METHODS as readonly string[]).includes(ctx.method)) {
      throw new RegistryError("UNSUPPORTED", `method ${ctx.method.slice(0, 16)} is not allowed on this route`, {
        detail: { method: ctx.method.slice(0, 16), allowed },
        headers: allowed.length > 0 ? { Allow: allowed.join(", ") } : {},
      });
    }
    throw new RegistryError("ROUTE_UNKNOWN", undefined, { detail: { path: ctx.path.slice(0, 256) } });
  };
}

/** Every route dvcr serves, in matching order; the route table is built from exactly this. */
export function routeDescriptors(deps: RouteDeps, ops: Operations, logger: Logger, auth?: AuthService, cvi?: CviService): RouteDescriptor[] {
  const base: RouteDescriptor = {
    name: "base",
    path: "/v2",
    access: "authenticated",
    handlers: {
      GET: async (ctx) => {
        ctx.body = {};
      },
    },
  };
  return [
    base,
    ...uploadRoutes(deps),
    ...blobRoutes(deps),
    ...manifestRoutes(deps),
    ...discoveryRoutes(deps),
    ...imageRoutes(deps),
    ...healthRoutes(deps.registry),
    ...opsRoutes(ops),
    ...(auth ? authRoutes(auth, logger) : []),
    ...(cvi ? [...kubeRoutes({ resources: [cvi.api], logger }), ...cviUploadRoutes(cvi.controller.uploads, logger)] : []),
  ];
}

/**
 * Build the Koa application: middleware, then the route table. With `cvi`, also the
 * ClusterVirtualImage API and its upload URLs (`dvcr serve`).
 */
export function createApp(registry: OpenRegistry, logger: Logger, auth?: AuthService, cvi?: CviService): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  const deps: RouteDeps = {
    registry,
    // Without auth the registry is open; with it, only what the request's subject may pull.
    canRead: auth
      ? (ctx) => (repository) => {
          const subject = subjectOf(ctx);
          return subject !== undefined && allows(subject, "repository", repository, "pull");
        }
      : () => () => true,
  };
  // Without auth every route is open; with it, each is guarded by its access rule.
  const table = new RouteTable(routeDescriptors(deps, registry.operations, logger, auth, cvi), auth ? [routeAuthorization(auth, logger)] : []);

  app.use(httpMetrics());
  app.use(respondPhase);
  app.use(accessLog(logger));
  app.use(apiVersion);
  app.use(errorMiddleware(logger));
  app.use(table.router.routes());
  app.use(unmatched(table));
  return app;
}
