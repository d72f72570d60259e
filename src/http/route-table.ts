import Router from "@koa/router";
import type { Context, Middleware, Next } from "koa";
import type { RegistryError } from "../oci/index.js";

/** The methods a route may answer; anything else is 405 (see `methodFallback`). */
export const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const;
export type Method = (typeof METHODS)[number];

export type RouteHandler = (ctx: Context) => Promise<void>;

/**
 * Who may call a route (auth-middleware.ts turns a rule into the access a request needs):
 * - `public`: anyone, without credentials (probes, /metrics, the token service);
 * - `authenticated`: any authenticated caller (the API version check);
 * - `catalog`: `registry:catalog:*`, as distribution's catalog;
 * - `repository`: the route's `<name>`, with distribution's actions for the method (and `pull`
 *   on a `from=` repository);
 * - `repository-pull`: `pull` on the route's `<name>`, whatever the method (read-only views);
 * - `admin`: every action (the operations API): what an unknown route would need, fail closed;
 * - `kubernetes`: `registry:kubernetes:*`, the Kubernetes-style API (admin, or a token for it).
 */
export type AccessRule = "public" | "authenticated" | "catalog" | "repository" | "repository-pull" | "admin" | "kubernetes";

/**
 * distribution's route names (registry/api/v2 descriptors), exported as `handler` in its
 * registry_http_* metric families; `referrers` is the v1.1 route it predates.
 */
export const DISTRIBUTION_ROUTES = ["base", "catalog", "manifest", "tags", "blob", "blob_upload", "blob_upload_chunk", "referrers"] as const;
export type DistributionRouteName = (typeof DISTRIBUTION_ROUTES)[number];

/** Our own routes, outside the Distribution API. */
export type OwnRouteName =
  | "healthz"
  | "readyz"
  | "metrics"
  | "token"
  | "jwks"
  | "images"
  | "image"
  | "gc"
  | "scrub"
  | "repository_delete"
  | "storage"
  | "tasks"
  | "kube_version"
  | "kube_api"
  | "kube_openapi"
  | "cvi_upload";

export type RouteName = DistributionRouteName | OwnRouteName;

/**
 * One route, declared once: the router, authorization and the metrics all read it, so a route
 * cannot be served without an access rule, and no code elsewhere re-derives a route from a path.
 */
export interface RouteDescriptor {
  name: RouteName;
  /** @koa/router pattern; `*name` is the repository (it may hold slashes). Also the metrics' `route` label. */
  path: string;
  access: AccessRule;
  /** A GET handler also answers HEAD unless HEAD has its own. */
  handlers: Partial<Record<Method, RouteHandler>>;
  /** Requests with a body stream blob bytes into an upload (counted in dvcr_uploads_in_progress). */
  streamsBlob?: boolean;
  /**
   * The body an error gets on this route (default: the spec's `{"errors":[…]}`). The Kubernetes
   * API answers `Status` objects, its authorization failures included, as kubectl expects.
   */
  errorBody?: (error: RegistryError) => unknown;
}

const DISTRIBUTION_NAMES = new Set<string>(DISTRIBUTION_ROUTES);

export function isDistributionRoute(name: RouteName): name is DistributionRouteName {
  return DISTRIBUTION_NAMES.has(name);
}

/** The methods a descriptor answers, HEAD included where GET answers it. */
export function methodsOf(route: RouteDescriptor): Method[] {
  const methods = METHODS.filter((m) => route.handlers[m] !== undefined);
  if (route.handlers.GET && !methods.includes("HEAD")) methods.push("HEAD");
  return methods;
}

/** The route a request is on (set before authorization and the handler run). */
export function routeOf(ctx: Context): RouteDescriptor | undefined {
  return ctx.state.route as RouteDescriptor | undefined;
}

/** What runs before a route's handler: metrics' route entry, then authorization. */
export type RouteGuard = (route: RouteDescriptor) => Middleware | undefined;

/**
 * The route table: descriptors in matching order (the first whose path and method match
 * answers), mounted on one @koa/router, one layer per route.
 */
export class RouteTable {
  readonly router = new Router();

  constructor(
    readonly routes: readonly RouteDescriptor[],
    guards: RouteGuard[] = [],
  ) {
    const names = new Set<string>();
    for (const route of routes) {
      if (names.has(route.name)) throw new Error(`route ${route.name} is declared twice`);
      names.add(route.name);
      const before = guards.map((g) => g(route)).filter((m): m is Middleware => m !== undefined);
      this.router.register(route.path, methodsOf(route), [enterRoute(route), ...before, dispatch(route)], { name: route.name });
    }
  }

  /** The route that answers `method` on `path`, if any. */
  match(method: string, path: string): RouteDescriptor | undefined {
    const layer = this.router.match(path, method).pathAndMethod.find((l) => l.methods.length > 0);
    return layer && this.routes.find((r) => r.name === layer.name);
  }

  /** The methods some route answers on `path` (empty: no route has this path). */
  allowedOn(path: string): Method[] {
    const allowed = new Set<Method>();
    for (const layer of this.router.match(path, "GET").path) {
      const route = this.routes.find((r) => r.name === layer.name);
      if (route) for (const m of methodsOf(route)) allowed.add(m);
    }
    return METHODS.filter((m) => allowed.has(m));
  }
}

function enterRoute(route: RouteDescriptor): Middleware {
  return async function onRoute(ctx: Context, next: Next): Promise<void> {
    ctx.state.route = route;
    (ctx.state.onRoute as ((route: RouteDescriptor) => void) | undefined)?.(route);
    await next();
  };
}

function dispatch(route: RouteDescriptor): Middleware {
  return async function handle(ctx: Context): Promise<void> {
    const handler = route.handlers[ctx.method as Method] ?? (ctx.method === "HEAD" ? route.handlers.GET : undefined);
    // The router only sends the methods of methodsOf(route) here.
    await handler!(ctx);
  };
}
