import { readFileSync } from "node:fs";
import type { Dispatcher } from "undici";
import { ImportError, kindOfStatus } from "./errors.js";
import { basicAuthorization } from "./transport.js";
import type { BasicCredentials } from "./types.js";

/**
 * Credentials for `host` from a docker config JSON (`.dockerconfigjson`, `~/.docker/config.json`):
 * `auths[host].auth` (base64 `user:pass`) or `username`/`password`. Keys may carry a scheme or a
 * path (`https://host/v1/`), as docker login writes them.
 */
export function credentialsFromAuthFile(file: string, host: string): BasicCredentials | undefined {
  let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    config = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new ImportError("invalid", `cannot read the docker config ${file}: ${(err as Error).message}`);
  }
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    const keyHost = key.replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "");
    if (keyHost !== host) continue;
    if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return undefined;
}

/** `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenge(header: string): Challenge {
  const space = header.indexOf(" ");
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of header.slice(space + 1).matchAll(/([a-zA-Z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[m[1]!.toLowerCase()] = (m[2] ?? m[3] ?? "").replace(/\\(.)/g, "$1");
  }
  return { scheme, params };
}

/**
 * Authorization for one registry: Basic when it asks for Basic, the token flow when it asks for
 * Bearer (a token per scope, fetched from the realm with the Basic credentials if any, reused
 * until the registry refuses it).
 */
export class RegistryAuth {
  private readonly tokens = new Map<string, string>();
  private basic = false;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly credentials: BasicCredentials | undefined,
    private readonly signal?: AbortSignal,
  ) {}

  /** The Authorization header to send first for this scope. */
  header(scope: string): string | undefined {
    const token = this.tokens.get(scope);
    if (token) return `Bearer ${token}`;
    if (this.basic && this.credentials) return basicAuthorization(this.credentials);
    return undefined;
  }

  /** After a 401: learn what the registry wants. False when another try cannot help. */
  async challenged(wwwAuthenticate: string | undefined, scope: string, sent: string | undefined): Promise<boolean> {
    if (!wwwAuthenticate) return false;
    const challenge = parseChallenge(wwwAuthenticate);
    if (challenge.scheme === "basic") {
      if (!this.credentials || this.basic) return false;
      this.basic = true;
      return true;
    }
    if (challenge.scheme !== "bearer" || !challenge.params.realm) return false;
    if (sent?.startsWith("Bearer ") && this.tokens.get(scope) === sent.slice(7) && challenge.params.error !== "insufficient_scope") return false;
    this.tokens.set(scope, await this.fetchToken(challenge.params, scope));
    return true;
  }

  private async fetchToken(params: Record<string, string>, scope: string): Promise<string> {
    const realm = new URL(params.realm!);
    if (params.service) realm.searchParams.set("service", params.service);
    for (const s of scope.split(" ")) realm.searchParams.append("scope", s);
    const headers: Record<string, string> = this.credentials ? { authorization: basicAuthorization(this.credentials) } : {};
    const res = await this.dispatcher.request({ origin: realm.origin, path: realm.pathname + realm.search, method: "GET", headers, signal: this.signal });
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      const kind = kindOfStatus(res.statusCode);
      throw new ImportError(kind === "not-found" ? "forbidden" : kind, `token service ${realm.origin}${realm.pathname} answered ${res.statusCode}: ${text.slice(0, 200)}`);
    }
    const body = JSON.parse(text) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new ImportError("forbidden", "token service answered without a token");
    return token;
  }
}
