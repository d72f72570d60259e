import { randomUUID } from "node:crypto";
import Router from "@koa/router";
import Koa, { type Context, type Middleware, type Next } from "koa";
import type { Logger } from "pino";
import { RegistryError } from "../oci/index.js";
import type { Registry } from "../registry/index.js";
import { allows, type AuthService } from "../auth/index.js";
import { authorizeRegistryRoutes, subjectOf } from "./auth-middleware.js";
import { errorMiddleware } from "./errors.js";
import { httpMetrics } from "./metrics-middleware.js";
import { authRoutes } from "./routes/auth.js";
import { blobRoutes } from "./routes/blobs.js";
import type { RouteDeps } from "./routes/context.js";
import { discoveryRoutes } from "./routes/discovery.js";
import { healthRoutes } from "./routes/health.js";
import { imageRoutes } from "./routes/images.js";
import { opsRoutes } from "./routes/ops.js";
import { Operations } from "../gc/operations.js";
import { manifestRoutes } from "./routes/manifests.js";
import { uploadRoutes } from "./routes/uploads.js";

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

async function apiVersion(ctx: Context, next: Next): Promise<void> {
  // Spec "API version check": clients may require this header on every /v2/ response.
  ctx.set("Docker-Distribution-API-Version", "registry/2.0");
  await next();
}

/** A request no route answered (and no 405 applied) still gets a spec-shaped error body. */
async function noSuchRoute(ctx: Context, next: Next): Promise<void> {
  await next();
  if (ctx.status === 404 && ctx.body == null) {
    throw new RegistryError("UNSUPPORTED", "no such route", { status: 404, detail: { path: ctx.path } });
  }
}

/**
 * Build the Koa application: middleware, then the route table (one file per route group).
 * `extensions` serve their own paths before the registry's routes (the Kubernetes-style API and
 * its upload URLs: they answer with their own error bodies and authorize by themselves).
 */
export function createApp(registry: Registry, logger: Logger, auth?: AuthService, extensions: Middleware[] = []): Koa {
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
  const router = new Router();
  router.get("/v2", async (ctx) => {
    ctx.body = {};
  });
  uploadRoutes(router, deps);
  blobRoutes(router, deps);
  manifestRoutes(router, deps);
  discoveryRoutes(router, deps);
  imageRoutes(router, deps);
  // Probes and /metrics are open (PUBLIC_PATHS); the admin API /api/v1/ is for admins only.
  healthRoutes(router, registry);
  opsRoutes(router, Operations.of(registry, logger));
  if (auth) authRoutes(router, auth, logger);

  app.use(httpMetrics());
  app.use(accessLog(logger));
  app.use(apiVersion);
  app.use(errorMiddleware(logger));
  for (const extension of extensions) app.use(extension);
  app.use(noSuchRoute);
  app.use(
    router.allowedMethods({
      throw: true,
      methodNotAllowed: () => new RegistryError("UNSUPPORTED", "method not allowed on this route"),
      notImplemented: () => new RegistryError("UNSUPPORTED", "method not implemented", { status: 501 }),
    }),
  );
  if (auth) app.use(authorizeRegistryRoutes(router, auth, logger));
  app.use(router.routes());
  return app;
}
