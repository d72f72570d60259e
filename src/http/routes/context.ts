import type { OpenRegistry } from "../../assembly/open-registry.js";
import type { ReadAccess } from "../../registry/index.js";
import type { Context } from "koa";

/** What every route group is built from. */
export interface RouteDeps {
  registry: OpenRegistry;
  /** Whether the caller of this request may pull from a repository (auth decides; default yes). */
  canRead: (ctx: Context) => ReadAccess;
}

/** Respond with a status and no body (Content-Length: 0), as the spec's 201/202/204 answers. */
export function respondEmpty(ctx: Context, status: number, headers: Record<string, string> = {}): void {
  // Order matters in Koa: a null body forces 204 unless the status is set afterwards.
  ctx.body = null;
  ctx.status = status;
  ctx.set(headers);
}
