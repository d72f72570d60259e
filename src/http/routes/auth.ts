import type { Context } from "koa";
import type { Logger } from "pino";
import { grantable } from "../../auth/policy.js";
import { formatScope, mergeAccess, parseScope, type Access } from "../../auth/scope.js";
import type { AuthService } from "../../auth/service.js";
import { RegistryError, parseRepositoryName } from "../../oci/index.js";
import { authenticateRequest } from "../auth-middleware.js";
import { queryParam, queryParams, readBody } from "../request.js";
import type { RouteDescriptor } from "../route-table.js";

/** `scope` parameters (repeatable, each possibly several space-separated scopes). */
function requestedScopes(values: string[]): Access[] {
  const scopes: Access[] = [];
  for (const text of values.flatMap((v) => v.split(" ")).filter((s) => s !== "")) {
    const scope = parseScope(text);
    if (!scope) throw new RegistryError("BAD_REQUEST", "malformed scope", { detail: { scope: text } });
    if (scope.type === "repository") parseRepositoryName(scope.name);
    scopes.push(scope);
  }
  return mergeAccess(scopes);
}

/** A token form is a few short fields; anything larger is not one. */
const MAX_FORM_BYTES = 16 * 1024;

function badRequest(message: string, detail?: unknown): RegistryError {
  return new RegistryError("BAD_REQUEST", message, { detail });
}

/** The body of an OAuth2 token request (application/x-www-form-urlencoded). */
async function readTokenForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.is("application/x-www-form-urlencoded")) {
    throw badRequest("a token request is an application/x-www-form-urlencoded form", { contentType: ctx.get("Content-Type") });
  }
  return new URLSearchParams((await readBody(ctx, MAX_FORM_BYTES)).toString("utf8"));
}

/**
 * The Docker token service: GET /auth/token?service=…&scope=repository:cvi/x:pull,push with
 * Basic credentials returns a short-lived token granting the part of the scope the caller may
 * have; POST /auth/token does the same for an OAuth2 password grant (the form containerd sends
 * first when it has credentials); GET /auth/jwks.json publishes the key that verifies tokens.
 */
export function authRoutes(auth: AuthService, logger: Logger): RouteDescriptor[] {
  const issuer = auth.issuer;
  if (!issuer) return [];
  const { service } = issuer.settings;

  const checkService = (asked: string | undefined | null) => {
    if (asked !== undefined && asked !== null && asked !== service) throw badRequest(`unknown service ${asked.slice(0, 64)}`, { service });
  };

  const tokenByGet = async (ctx: Context) => {
    checkService(queryParam(ctx, "service"));
    const requested = requestedScopes(queryParams(ctx, "scope"));
    // The token endpoint itself is guarded by Basic, as distribution's token servers are.
    const subject = await authenticateRequest(ctx, auth, logger, { scheme: "basic", realm: service }, requested);
    const granted = grantable(subject, requested);
    ctx.set("Cache-Control", "no-store");
    ctx.body = await issuer.issue(subject.name, granted, requested);
  };

  // Docker's "OAuth2 token authentication": grant_type=password with username and password in
  // the form. Refresh tokens (access_type=offline) are optional in that spec and not issued:
  // a client keeps its password and asks again, as it does with GET.
  const tokenByForm = async (ctx: Context) => {
    const form = await readTokenForm(ctx);
    const grant = form.get("grant_type");
    if (grant !== "password") {
      throw badRequest(
        grant === "refresh_token" ? "this registry issues no refresh tokens: use grant_type=password" : "grant_type must be password",
        { grant_type: grant },
      );
    }
    checkService(form.get("service"));
    if (!form.get("client_id")) throw badRequest("client_id is required");
    const username = form.get("username");
    const password = form.get("password");
    if (!username || password === null) throw badRequest("username and password are required for grant_type=password");
    const requested = requestedScopes(form.getAll("scope"));
    const subject = await authenticateRequest(ctx, auth, logger, { scheme: "basic", realm: service }, requested, { scheme: "basic", username, password });
    const granted = grantable(subject, requested);
    const issued = await issuer.issue(subject.name, granted, requested);
    ctx.set("Cache-Control", "no-store");
    ctx.body = { access_token: issued.access_token, scope: granted.map(formatScope).join(" "), expires_in: issued.expires_in, issued_at: issued.issued_at };
  };

  const jwks = async (ctx: Context) => {
    ctx.set("Cache-Control", "max-age=60");
    ctx.body = issuer.jwks();
  };

  // Public: the token service authenticates its callers itself; the public key is public.
  return [
    { name: "token", path: "/auth/token", access: "public", handlers: { GET: tokenByGet, POST: tokenByForm } },
    { name: "jwks", path: "/auth/jwks.json", access: "public", handlers: { GET: jwks } },
  ];
}
