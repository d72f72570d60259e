import type { Context } from "koa";
import type { Access } from "../auth/index.js";
import { parseRepositoryName } from "../oci/index.js";
import { queryParam, repositoryParam } from "./request.js";
import { IMAGES_PATH } from "./routes/images.js";
import { PUBLIC_PATHS } from "./routes/health.js";

/** A route of the route table, as authorization sees it. */
export interface RouteInfo {
  path: string;
  /** The route has the `*name` parameter: it acts on one repository. */
  hasRepository: boolean;
}

/** Method → actions, exactly as distribution's appendAccessRecords. */
const ACTIONS_BY_METHOD: Record<string, string[]> = {
  GET: ["pull"],
  HEAD: ["pull"],
  POST: ["pull", "push"],
  PUT: ["pull", "push"],
  PATCH: ["pull", "push"],
  DELETE: ["delete"],
};

/**
 * What a request on a route of the Distribution API needs. The repository comes from the
 * route's own `name` parameter through the same parser the handler uses (spec grammar, so
 * `cvi/x/../y` is NAME_INVALID before any grant is looked at, and the name authorized is the
 * name acted on). Any other route (the operations API, extensions) needs full admin rights:
 * fail closed.
 */
export function requiredAccess(route: RouteInfo, ctx: Context): Access[] {
  if (route.path === "/v2") return []; // the API version check: any authenticated caller
  if (route.path === "/v2/_catalog") return [{ type: "registry", name: "catalog", actions: ["*"] }];
  // The disk-image index answers what a pull would tell: an image's entry needs pull on its
  // repository, the listing catalog access as /v2/_catalog (and it lists pullable ones only).
  if (route.path === IMAGES_PATH) return [{ type: "registry", name: "catalog", actions: ["*"] }];
  if (route.path === `${IMAGES_PATH}/*name` && (ctx.method === "GET" || ctx.method === "HEAD")) {
    return [{ type: "repository", name: repositoryParam(ctx), actions: ["pull"] }];
  }
  if (!route.hasRepository || !route.path.startsWith("/v2/")) return [{ type: "registry", name: route.path, actions: ["*"] }];
  const needed: Access[] = [{ type: "repository", name: repositoryParam(ctx), actions: ACTIONS_BY_METHOD[ctx.method] ?? ["*"] }];
  // Mounting from another repository also needs pull there (distribution checks any `from`).
  const from = queryParam(ctx, "from");
  if (from !== undefined) needed.push({ type: "repository", name: parseRepositoryName(from), actions: ["pull"] });
  return needed;
}

/** Where the token service answers (public: it authenticates its callers itself). */
export const AUTH_PATHS = { token: "/auth/token", jwks: "/auth/jwks.json" } as const;

/**
 * Routes anyone may call: the token service (it authenticates by itself), its public keys,
 * and what probes and Prometheus call without credentials.
 */
const PUBLIC_ROUTES = new Set<string>([...PUBLIC_PATHS, AUTH_PATHS.token, AUTH_PATHS.jwks]);

/** Every other route is authorized (a RegExp route, which names no parameters, as admin-only). */
export function isPublicRoute(path: string | RegExp): boolean {
  return typeof path === "string" && PUBLIC_ROUTES.has(path);
}
