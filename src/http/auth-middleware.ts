import type { Context, Next } from "koa";
import type { Logger } from "pino";
import { parseAuthorization, type Credentials } from "../auth/credentials.js";
import { missingAccess, wasRequested, type Subject } from "../auth/policy.js";
import type { Access } from "../auth/scope.js";
import type { AuthService, ChallengeSettings } from "../auth/service.js";
import { authFailures } from "../metrics/auth.js";
import { RegistryError } from "../oci/index.js";
import { challengeHeader } from "./challenge.js";
import { requiredAccess } from "./route-access.js";
import type { RouteDescriptor, RouteGuard } from "./route-table.js";

/** The authenticated caller of this request (set before any handler of a /v2 route runs). */
export function subjectOf(ctx: Context): Subject | undefined {
  return ctx.state.subject as Subject | undefined;
}

/**
 * Who is calling: credentials from the Authorization header, checked unless the client address
 * has used up its failures (429). Throws 401 with `challenge` when there are no usable
 * credentials. Shared by the registry routes and the token endpoint.
 */
export async function authenticateRequest(
  ctx: Context,
  auth: AuthService,
  logger: Logger,
  challenge: ChallengeSettings,
  needed: Access[],
  /** Credentials from elsewhere than the Authorization header (the token service's form). */
  credentials: Credentials = parseAuthorization(ctx.get("Authorization") || undefined),
): Promise<Subject> {
  if (credentials.scheme !== "none") {
    const retryAfter = auth.limiter.retryAfter(ctx.ip);
    if (retryAfter > 0) {
      authFailures.inc({ reason: "rate_limited" });
      throw new RegistryError("TOOMANYREQUESTS", "too many failed authentication attempts from this address; try again later", {
        headers: { "Retry-After": String(retryAfter) },
      });
    }
  }
  const outcome = await auth.authenticator.authenticate(credentials);
  if (outcome.result === "ok") return outcome.subject;
  if (outcome.result === "missing") {
    throw new RegistryError("UNAUTHORIZED", "authentication required", {
      detail: needed,
      headers: { "WWW-Authenticate": challengeHeader(ctx, challenge, needed) },
    });
  }
  auth.limiter.recordFailure(ctx.ip);
  authFailures.inc({ reason: outcome.reason });
  // Never the header, the password or the token: only what kind of failure, and a known account name.
  logger.info({ reqId: ctx.state.requestId, client: ctx.ip, reason: outcome.reason, account: outcome.account, why: outcome.message }, "authentication failed");
  const error = credentials.scheme === "bearer" ? "invalid_token" : undefined;
  throw new RegistryError("UNAUTHORIZED", outcome.message, {
    detail: needed,
    headers: { "WWW-Authenticate": challengeHeader(ctx, challenge, needed, error) },
  });
}

/** Decide a request on a guarded route: 401 (who are you), 403 DENIED (not allowed), or pass. */
async function authorize(ctx: Context, route: RouteDescriptor, auth: AuthService, logger: Logger): Promise<void> {
  const needed = requiredAccess(route, ctx);
  const subject = await authenticateRequest(ctx, auth, logger, auth.challenge, needed);
  ctx.state.subject = subject;
  const missing = missingAccess(subject, needed);
  if (missing.length === 0) return;
  const what = missing.map((m) => `${m.actions.join(",")} on ${m.type} ${m.name}`).join("; ");
  if (subject.kind === "anonymous") {
    throw new RegistryError("UNAUTHORIZED", `authentication required to ${what}`, {
      detail: needed,
      headers: { "WWW-Authenticate": challengeHeader(ctx, auth.challenge, needed) },
    });
  }
  if (subject.kind === "token" && !missing.every((m) => wasRequested(subject, m))) {
    // The token was issued for other scopes: the client should fetch one for these.
    throw new RegistryError("UNAUTHORIZED", `token does not grant ${what}`, {
      detail: needed,
      headers: { "WWW-Authenticate": challengeHeader(ctx, auth.challenge, needed, "insufficient_scope") },
    });
  }
  authFailures.inc({ reason: "denied" });
  logger.info({ reqId: ctx.state.requestId, client: ctx.ip, subject: subject.name, kind: subject.kind, missing }, "access denied");
  throw new RegistryError("DENIED", `${subject.kind} ${subject.name} may not ${what}`, {
    detail: missing,
    headers: { "WWW-Authenticate": challengeHeader(ctx, auth.challenge, needed, "insufficient_scope") },
  });
}

/**
 * Authorization in front of every route but the public ones. It runs inside the route (after the
 * router has set ctx.params) so that the repository it authorizes is the one the handler acts
 * on. Every route is mounted through the route table with its access rule, so none can be
 * served unguarded.
 */
export function routeAuthorization(auth: AuthService, logger: Logger): RouteGuard {
  return (route) =>
    route.access === "public"
      ? undefined
      : async function authorizeRoute(ctx: Context, next: Next): Promise<void> {
          await authorize(ctx, route, auth, logger);
          await next();
        };
}
