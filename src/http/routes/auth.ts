import type Router from "@koa/router";
import type { Logger } from "pino";
import { grantable, mergeAccess, parseScope, type Access, type AuthService } from "../../auth/index.js";
import { RegistryError, parseRepositoryName } from "../../oci/index.js";
import { authenticateRequest } from "../auth-middleware.js";
import { queryParam, queryParams } from "../request.js";
import { AUTH_PATHS } from "../route-access.js";

/** `scope` parameters (repeatable, each possibly several space-separated scopes). */
function requestedScopes(values: string[]): Access[] {
  const scopes: Access[] = [];
  for (const text of values.flatMap((v) => v.split(" ")).filter((s) => s !== "")) {
    const scope = parseScope(text);
    if (!scope) throw new RegistryError("UNSUPPORTED", "malformed scope", { status: 400, detail: { scope: text } });
    if (scope.type === "repository") parseRepositoryName(scope.name);
    scopes.push(scope);
  }
  return mergeAccess(scopes);
}

/**
 * The Docker token service: GET /auth/token?service=…&scope=repository:cvi/x:pull,push with
 * Basic credentials returns a short-lived token granting the part of the scope the caller may
 * have; GET /auth/jwks.json publishes the key that verifies those tokens.
 */
export function authRoutes(router: Router, auth: AuthService, logger: Logger): void {
  const issuer = auth.issuer;
  if (!issuer) return;
  const { service } = issuer.settings;

  router.get(AUTH_PATHS.token, async (ctx) => {
    const asked = queryParam(ctx, "service");
    if (asked !== undefined && asked !== service) {
      throw new RegistryError("UNSUPPORTED", `unknown service ${asked.slice(0, 64)}`, { status: 400, detail: { service } });
    }
    const requested = requestedScopes(queryParams(ctx, "scope"));
    // The token endpoint itself is guarded by Basic, as distribution's token servers are.
    const subject = await authenticateRequest(ctx, auth, logger, { scheme: "basic", realm: service }, requested);
    const granted = grantable(subject, requested);
    ctx.set("Cache-Control", "no-store");
    ctx.body = await issuer.issue(subject.name, granted, requested);
  });

  router.get(AUTH_PATHS.jwks, async (ctx) => {
    ctx.set("Cache-Control", "max-age=60");
    ctx.body = issuer.jwks();
  });
}
