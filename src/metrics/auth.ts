import { Counter } from "prom-client";
import { metricsRegistry } from "./registry.js";

/**
 * Failed authentications and authorizations. `reason`: bad_credentials (wrong user or
 * password), invalid_token (a JWT or bearer token that failed verification), malformed (an
 * Authorization header we cannot parse), denied (authenticated, not allowed: 403),
 * rate_limited (refused with 429 before checking). A request without any credentials is the
 * normal first step of every client's challenge round trip and is not counted.
 */
export const authFailures = new Counter({
  name: "dvcr_auth_failures_total",
  help: "Failed authentications and authorizations, by reason",
  labelNames: ["reason"] as const,
  registers: [metricsRegistry],
});
