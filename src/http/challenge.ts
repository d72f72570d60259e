import type { Context } from "koa";
import { formatScope, type Access } from "../auth/scope.js";
import type { ChallengeSettings } from "../auth/service.js";

/** Characters that may appear inside a quoted auth-param as we build them. */
const quoted = (value: string) => value.replace(/["\\\r\n]/g, "");

/** The token endpoint of this registry as the client reached it (unless configured). */
function realmOf(ctx: Context, configured: string | undefined): string {
  if (configured) return configured;
  const host = ctx.host.replace(/[^A-Za-z0-9.:\-[\]]/g, "") || "localhost";
  return `${ctx.protocol}://${host}/auth/token`;
}

/**
 * WWW-Authenticate for a 401 (or a 403 with error="insufficient_scope"): Basic realm="dvcr"
 * as DVCR answers, or the Docker token challenge with the scope the request needs.
 */
export function challengeHeader(ctx: Context, settings: ChallengeSettings, needed: Access[], error?: "invalid_token" | "insufficient_scope"): string {
  const params: string[] = [];
  if (settings.scheme === "basic") {
    params.push(`realm="${quoted(settings.realm)}"`);
  } else {
    params.push(`realm="${quoted(realmOf(ctx, settings.realm))}"`, `service="${quoted(settings.service)}"`);
    if (needed.length > 0) params.push(`scope="${quoted(needed.map(formatScope).join(" "))}"`);
  }
  if (error) params.push(`error="${error}"`);
  return `${settings.scheme === "basic" ? "Basic" : "Bearer"} ${params.join(",")}`;
}
