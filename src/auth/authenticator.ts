import type { WatchedFiles } from "../config/watched-file.js";
import type { Credentials } from "./credentials.js";
import { decoyCompare, type HtpasswdVerifier } from "./htpasswd.js";
import { isJwtShaped, verifyJwt, type JwtTrust } from "./jwt.js";
import { claimRules, everything, pullEverywhere, type AccessRule, type Subject, type SubjectKind } from "./policy.js";
import { validate } from "../oci/schema.js";
import { AccessClaimSchema } from "./scope.js";
import { sameSecret } from "./secrets.js";

export interface StaticAccount {
  username: string;
  password: WatchedFiles<string>;
}

export interface AuthenticatorParts {
  admin?: StaticAccount;
  puller?: StaticAccount;
  htpasswd?: { verifier: HtpasswdVerifier; rules: AccessRule[] };
  /** The controller's key: Basic passwords (and Bearer tokens) that are its JWTs. */
  jwt?: JwtTrust;
  /** Our own token service's key: Bearer tokens it issued. */
  ownTokens?: JwtTrust;
  anonymousPull: boolean;
}

export type FailureReason = "bad_credentials" | "invalid_token" | "malformed";

export type AuthOutcome =
  | { result: "ok"; subject: Subject }
  /** No credentials, and anonymous access is off. */
  | { result: "missing" }
  /** `account` is set only when it names a configured account (so it is no secret to log). */
  | { result: "failed"; reason: FailureReason; message: string; account?: string };

const BAD_PASSWORD = "invalid username or password";

/** Turns credentials into a Subject: who is asking and what they may do. Knows nothing of HTTP. */
export class Authenticator {
  constructor(private readonly parts: AuthenticatorParts) {}

  async authenticate(credentials: Credentials): Promise<AuthOutcome> {
    switch (credentials.scheme) {
      case "none":
        return this.parts.anonymousPull ? ok("anonymous", "anonymous", pullEverywhere()) : { result: "missing" };
      case "invalid":
        return { result: "failed", reason: "malformed", message: credentials.message };
      case "basic":
        return this.basic(credentials.username, credentials.password);
      case "bearer":
        return this.bearer(credentials.token);
    }
  }

  private async basic(username: string, password: string): Promise<AuthOutcome> {
    const { admin, puller, htpasswd, jwt } = this.parts;
    const statics: [SubjectKind, StaticAccount | undefined, () => AccessRule[]][] = [
      ["admin", admin, everything],
      ["puller", puller, pullEverywhere],
    ];
    for (const [kind, account, rules] of statics) {
      if (account && sameSecret(username, account.username)) {
        if (sameSecret(password, account.password.value)) return ok(kind, username, rules());
        await this.spendDecoy(password);
        return { result: "failed", reason: "bad_credentials", message: BAD_PASSWORD, account: username };
      }
    }
    if (htpasswd?.verifier.has(username)) {
      return (await htpasswd.verifier.verify(username, password))
        ? ok("htpasswd", username, htpasswd.rules)
        : { result: "failed", reason: "bad_credentials", message: BAD_PASSWORD, account: username };
    }
    if (jwt && isJwtShaped(password)) {
      const verified = await verifyJwt(password, jwt);
      if (!verified.ok) return { result: "failed", reason: "invalid_token", message: verified.message };
      return ok("jwt", verified.payload.sub ?? username, claimRules(verified.access));
    }
    // Unknown user: still spend a bcrypt so that timing does not reveal which names exist.
    await this.spendDecoy(password);
    return { result: "failed", reason: "bad_credentials", message: BAD_PASSWORD };
  }

  /**
   * Every failed password check costs one bcrypt, whichever account it named (a static account's
   * own check is a fast constant-time compare): the time of a failure tells nothing about which
   * account names exist.
   */
  private spendDecoy(password: string): Promise<void> {
    return this.parts.htpasswd ? this.parts.htpasswd.verifier.spendDecoy(password) : decoyCompare(password);
  }

  private async bearer(token: string): Promise<AuthOutcome> {
    const { ownTokens, jwt } = this.parts;
    const kid = keyIdOf(token);
    // Pick the trusted key the token names; a token naming neither gets the controller's
    // verdict (or ours), which says which check failed.
    const own = ownTokens && (kid === ownTokens.keyId || !jwt);
    const trust = own ? ownTokens : jwt;
    if (!trust) return { result: "failed", reason: "invalid_token", message: "bearer tokens are not accepted by this registry" };
    const verified = await verifyJwt(token, trust);
    if (!verified.ok) return { result: "failed", reason: "invalid_token", message: verified.message };
    const name = verified.payload.sub ?? "token";
    if (!own) return ok("jwt", name, claimRules(verified.access));
    const requested = validate(AccessClaimSchema, verified.payload.requested_access ?? []);
    if (!requested.success) return { result: "failed", reason: "invalid_token", message: "token requested_access claim is malformed" };
    return { result: "ok", subject: { kind: "token", name, rules: claimRules(verified.access), requested: requested.data } };
  }
}

function ok(kind: SubjectKind, name: string, rules: AccessRule[]): AuthOutcome {
  return { result: "ok", subject: { kind, name, rules } };
}

/** The header's kid, read without trusting anything else in it (verification follows). */
function keyIdOf(token: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString("utf8")) as { kid?: unknown };
    return typeof header.kid === "string" ? header.kid : undefined;
  } catch {
    return undefined;
  }
}
