/**
 * The suite's HTTP client: plain fetch against any registry.
 *
 * Authentication works as docker and containerd do it: a request goes out anonymously (or with
 * what an earlier challenge taught us for the same repository); a `401` is answered once, either
 * with Basic credentials (`WWW-Authenticate: Basic …`) or through the Docker token flow
 * (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`: fetch a token from the realm, with
 * Basic credentials when we have them, anonymously otherwise, and retry with `Bearer <token>`).
 *
 * Every response is read completely before it is handed to a check, so that failure messages can
 * quote the status, the headers and the start of the body.
 */
export interface Credentials {
  user: string;
  password: string;
}

/** A request body: bytes, or a factory of a stream (sent with chunked transfer encoding). */
export type Body = string | Uint8Array | (() => AsyncIterable<Uint8Array>) | null | undefined;

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Body;
  /**
   * Scopes to ask for besides the challenge's when this request fetches a token (e.g.
   * `repository:<source>:pull` for a mount: a token grants only what it names, as docker asks
   * for its mount sources). Basic credentials ignore them.
   */
  extraScopes?: string[];
}

/** Headers worth quoting when a check fails. */
const QUOTED_HEADERS = [
  "content-type",
  "content-length",
  "location",
  "range",
  "content-range",
  "docker-content-digest",
  "docker-distribution-api-version",
  "oci-subject",
  "oci-filters-applied",
  "link",
  "www-authenticate",
];

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** A registry response, read to the end. */
export class Reply {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly headers: Headers,
    readonly body: Buffer,
    /** Set when the body could not be read to the end (e.g. a Content-Length the server did not honour). */
    readonly bodyError?: string,
  ) {}

  header(name: string): string | null {
    return this.headers.get(name);
  }

  text(): string {
    return this.body.toString("utf8");
  }

  /** The body parsed as JSON, or undefined when it is not JSON. */
  json(): unknown {
    try {
      return JSON.parse(this.text()) as unknown;
    } catch {
      return undefined;
    }
  }

  /** `METHOD /path → status; Header: value; …; body: …`, for failure messages. */
  describe(): string {
    const u = new URL(this.url);
    const parts = [`${this.method} ${clip(u.pathname + u.search, 120)} → ${this.status}`];
    for (const h of QUOTED_HEADERS) {
      const v = this.headers.get(h);
      if (v !== null) parts.push(`${h}: ${clip(v, 120)}`);
    }
    const text = this.text().replace(/\s+/g, " ").trim();
    if (text) parts.push(`body: ${clip(text, 200)}`);
    if (this.bodyError) parts.push(`body cut: ${this.bodyError}`);
    return parts.join("; ");
  }
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenge(header: string): Challenge | null {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

/** The repository a `/v2/<name>/…` path addresses (the key auth is remembered under). */
function authKey(url: URL): string {
  const m = /^\/v2\/(.+?)\/(?:blobs|manifests|tags|referrers)\//.exec(url.pathname);
  return m ? m[1]! : url.pathname;
}

export class RegistryClient {
  readonly base: string;
  private readonly origin: string;
  /** Authorization that worked, per repository (or path). */
  private readonly learned = new Map<string, string>();
  private basicAnswered = false;

  constructor(
    base: string,
    private readonly credentials?: Credentials,
    private readonly timeoutMs = 60_000,
  ) {
    this.base = base.replace(/\/+$/, "");
    this.origin = new URL(this.base).origin;
  }

  /** Resolve a path or a Location header (absolute or relative) against the registry. */
  resolve(location: string): string {
    return new URL(location, `${this.base}/`).toString();
  }

  /** `location` with `name=value` appended to its query, leaving the registry's own query (e.g. a state token) byte for byte. */
  withQuery(location: string, name: string, value: string): string {
    const url = this.resolve(location);
    const hash = url.indexOf("#");
    const [head, fragment] = hash < 0 ? [url, ""] : [url.slice(0, hash), url.slice(hash)];
    const sep = !head.includes("?") ? "?" : head.endsWith("?") || head.endsWith("&") ? "" : "&";
    return `${head}${sep}${encodeURIComponent(name)}=${encodeURIComponent(value)}${fragment}`;
  }

  async request(target: string, opts: RequestOptions = {}): Promise<Reply> {
    const method = opts.method ?? "GET";
    const url = new URL(this.resolve(target));
    const ours = url.origin === this.origin;
    const key = authKey(url);
    let auth = ours ? this.learned.get(key) ?? (this.basicAnswered ? this.basic() : undefined) : undefined;
    let res = await this.send(method, url, opts, auth);
    if (res.status === 401 && ours) {
      const answer = await this.answer(res.headers.get("www-authenticate"), opts.extraScopes ?? []);
      if (answer && answer !== auth) {
        await res.arrayBuffer().catch(() => undefined);
        auth = answer;
        res = await this.send(method, url, opts, auth);
        if (res.status !== 401) this.learned.set(key, auth);
      }
    }
    let body = Buffer.alloc(0);
    let bodyError: string | undefined;
    if (method !== "HEAD") {
      try {
        body = Buffer.from(await res.arrayBuffer());
      } catch (err) {
        bodyError = (err as Error).message;
      }
    }
    return new Reply(method, url.toString(), res.status, res.headers, body, bodyError);
  }

  private send(method: string, url: URL, opts: RequestOptions, auth: string | undefined): Promise<Response> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (auth) headers.Authorization = auth;
    const body = typeof opts.body === "function" ? opts.body() : opts.body ?? undefined;
    const init: RequestInit & { duplex?: "half" } = {
      method,
      headers,
      body: body as RequestInit["body"],
      redirect: "follow",
      signal: AbortSignal.timeout(this.timeoutMs),
    };
    if (typeof opts.body === "function") init.duplex = "half";
    return fetch(url, init);
  }

  private basic(): string | undefined {
    if (!this.credentials) return undefined;
    return `Basic ${Buffer.from(`${this.credentials.user}:${this.credentials.password}`).toString("base64")}`;
  }

  /** The Authorization header that answers a 401 challenge, or undefined if we cannot. */
  private async answer(header: string | null, extraScopes: string[]): Promise<string | undefined> {
    const challenge = header ? parseChallenge(header) : null;
    if (!challenge) return undefined;
    if (challenge.scheme === "basic") {
      if (!this.credentials) return undefined;
      this.basicAnswered = true;
      return this.basic();
    }
    if (challenge.scheme !== "bearer" || !challenge.params.realm) return undefined;
    const tokenUrl = new URL(challenge.params.realm);
    if (challenge.params.service) tokenUrl.searchParams.set("service", challenge.params.service);
    for (const scope of [...(challenge.params.scope ?? "").split(" "), ...extraScopes].filter(Boolean)) tokenUrl.searchParams.append("scope", scope);
    const basic = this.basic();
    try {
      const res = await fetch(tokenUrl, { headers: basic ? { Authorization: basic } : {}, signal: AbortSignal.timeout(this.timeoutMs) });
      if (!res.ok) {
        await res.arrayBuffer().catch(() => undefined);
        return undefined;
      }
      const body = (await res.json()) as { token?: string; access_token?: string };
      const token = body.token ?? body.access_token;
      return token ? `Bearer ${token}` : undefined;
    } catch {
      return undefined;
    }
  }
}
