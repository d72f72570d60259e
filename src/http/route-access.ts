import type { Context } from "koa";
import type { Access } from "../auth/scope.js";
import { parseRepositoryName } from "../oci/index.js";
import { queryParam, repositoryParam } from "./request.js";
import type { AccessRule, RouteDescriptor } from "./route-table.js";

/** Method → actions, exactly as distribution's appendAccessRecords. */
const ACTIONS_BY_METHOD: Record<string, string[]> = {
  GET: ["pull"],
  HEAD: ["pull"],
  POST: ["pull", "push"],
  PUT: ["pull", "push"],
  PATCH: ["pull", "push"],
  DELETE: ["delete"],
};

const CATALOG: Access = { type: "registry", name: "catalog", actions: ["*"] };
const KUBERNETES: Access = { type: "registry", name: "kubernetes", actions: ["*"] };

/**
 * What a request on `route` needs, from the route's access rule. The repository comes from the
 * route's own `name` parameter through the same parser the handler uses (spec grammar, so
 * `cvi/x/../y` is NAME_INVALID before any grant is looked at, and the name authorized is the
 * name acted on).
 */
export function requiredAccess(route: RouteDescriptor, ctx: Context): Access[] {
  const rule: AccessRule = route.access;
  switch (rule) {
    case "public":
    case "authenticated":
      return [];
    case "catalog":
      return [CATALOG];
    case "repository-pull":
      return [{ type: "repository", name: repositoryParam(ctx), actions: ["pull"] }];
    case "repository": {
      const needed: Access[] = [{ type: "repository", name: repositoryParam(ctx), actions: ACTIONS_BY_METHOD[ctx.method] ?? ["*"] }];
      // Mounting from another repository also needs pull there (distribution checks any `from`).
      const from = queryParam(ctx, "from");
      if (from !== undefined) needed.push({ type: "repository", name: parseRepositoryName(from), actions: ["pull"] });
      return needed;
    }
    case "admin":
      return [{ type: "registry", name: route.path, actions: ["*"] }];
    case "kubernetes":
      return [KUBERNETES];
  }
}
