/**
 * The suite's HTTP client: plain fetch against any registry, with Basic credentials and the
 * Docker token flow (401 + `WWW-Authenticate: Bearer realm=…` → fetch a token → retry).
 */
export interface Credentials {
  user: string;
  password: string;
}

export type Body = string | Uint8Array | null | undefined;

export interface Request {
  method?: string;
  headers?: Record<string, string>;
  body?: Body;
}

function parseChallenge(header: string): Record<string, string> | null {
  const m = /^Bearer\s+(.*)$/i.exec(header.trim());
  if (!m) return null;
  const params: Record<string, string> = {};
  for (const part of m[1]!.matchAll(/(\w+)="([^"]*)"/g)) params[part[1]!] = part[2]!;
  return params;
}

export class RegistryClient {
  private readonly bearer = new Map<string, string>();

  constructor(
    readonly base: string,
    private readonly credentials?: Credentials,
  ) {}

  /** Resolve a Location header (absolute or relative) against the registry. */
  resolve(location: string): string {
    return new URL(location, this.base).toString();
  }

  async request(pathOrUrl: string, req: Request = {}): Promise<Response> {
    const url = pathOrUrl.startsWith("http") ? pathOrUrl : `${this.base}${pathOrUrl}`;
    const send = (auth?: string) =>
      fetch(url, {
        method: req.method ?? "GET",
        headers: { ...(req.headers ?? {}), ...(auth ? { Authorization: auth } : {}) },
        body: req.body ?? undefined,
        redirect: "follow",
      } as RequestInit);
    // Like docker and containerd: go anonymous (or with what a challenge taught us) first.
    let res = await send(this.authorization());
    if (res.status !== 401 || !this.credentials) return res;
    const header = res.headers.get("www-authenticate") ?? "";
    const challenge = parseChallenge(header);
    await res.arrayBuffer();
    if (challenge?.realm) {
      const token = await this.fetchToken(challenge);
      if (!token) return send(undefined);
      this.bearer.set(challenge.scope ?? "", token);
      this.lastToken = token;
      return send(`Bearer ${token}`);
    }
    if (/^Basic/i.test(header)) {
      this.basicMode = true;
      res = await send(this.authorization());
    }
    return res;
  }

  private basicMode = false;
  private lastToken: string | undefined;

  private authorization(): string | undefined {
    if (!this.credentials) return undefined;
    if (this.basicMode) return `Basic ${Buffer.from(`${this.credentials.user}:${this.credentials.password}`).toString("base64")}`;
    return this.lastToken ? `Bearer ${this.lastToken}` : undefined;
  }

  private async fetchToken(challenge: Record<string, string>): Promise<string | undefined> {
    const url = new URL(challenge.realm!);
    if (challenge.service) url.searchParams.set("service", challenge.service);
    // Ask for everything the suite does, so one token serves every repository it touches.
    for (const scope of (challenge.scope ?? "").split(" ").filter(Boolean)) url.searchParams.append("scope", scope);
    const res = await fetch(url, {
      headers: { Authorization: `Basic ${Buffer.from(`${this.credentials!.user}:${this.credentials!.password}`).toString("base64")}` },
    });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { token?: string; access_token?: string };
    return body.token ?? body.access_token;
  }
}
