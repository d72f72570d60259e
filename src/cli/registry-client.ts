import { readFileSync } from "node:fs";

/** How `--url` commands reach a running registry. */
export interface UrlTarget {
  url: string;
  /** PEM CA bundle to trust for an https:// URL (a private CA, cert-manager's). */
  cacert?: string;
  /** Skip certificate verification (a self-signed registry you trust by other means). */
  insecure?: boolean;
}

export class RegistryCallError extends Error {}

/**
 * Credentials for every `--url` command: DVCR_CREDENTIALS ("user:password"), never the
 * command line (where `ps` shows it to everyone). DVCR_ADMIN_CREDENTIALS, the name `gc` and
 * `scrub` read before, still works.
 */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.DVCR_CREDENTIALS || env.DVCR_ADMIN_CREDENTIALS || undefined;
}

/** The message of the first spec error in a body, or the start of the body. */
function reasonOf(text: string): string {
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const first = body.errors?.[0];
    if (first?.message) return `${first.code ?? "error"}: ${first.message}`;
  } catch {
    // not JSON: quote it
  }
  return text.replace(/\s+/g, " ").trim().slice(0, 200);
}

/** What went wrong underneath fetch's "fetch failed": the connection's or TLS's own words. */
function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.message) return cause.code && !cause.message.includes(cause.code) ? `${cause.code}: ${cause.message}` : cause.message;
  return (err as Error).message;
}

/** Call the registry's API and return its JSON; every failure is one line (RegistryCallError). */
export async function callRegistry(target: UrlTarget, path: string, init: { method?: string; body?: unknown } = {}): Promise<unknown> {
  let base: URL;
  try {
    base = new URL(target.url);
  } catch {
    throw new RegistryCallError(`--url ${target.url} is not a URL`);
  }
  let ca: Buffer | undefined;
  if (target.cacert) {
    try {
      ca = readFileSync(target.cacert);
    } catch (err) {
      throw new RegistryCallError(`--cacert ${target.cacert}: ${(err as Error).message}`);
    }
  }
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  const credentials = credentialsFromEnv();
  if (credentials) headers.Authorization = `Basic ${Buffer.from(credentials).toString("base64")}`;
  // Loaded here, not at start: `dvcr serve` never needs it (and a process low on descriptors
  // should not spend them loading an HTTP client's hundred files).
  const { Agent, fetch } = await import("undici");
  const dispatcher = new Agent({ connect: { ca, rejectUnauthorized: !target.insecure } });
  const url = new URL(path, base);
  try {
    let res: Awaited<ReturnType<typeof fetch>>;
    try {
      res = await fetch(url, { method: init.method ?? "GET", headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), dispatcher });
    } catch (err) {
      throw new RegistryCallError(`cannot reach ${base.origin}: ${causeOf(err)}`);
    }
    const text = await res.text();
    if (!res.ok) {
      const hint = res.status === 401 && !credentials ? " (set DVCR_CREDENTIALS=user:password)" : "";
      throw new RegistryCallError(`${base.origin} answered ${res.status} to ${init.method ?? "GET"} ${url.pathname}: ${reasonOf(text)}${hint}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new RegistryCallError(`${base.origin} answered ${url.pathname} with something that is not JSON: ${reasonOf(text)}`);
    }
  } finally {
    await dispatcher.close();
  }
}
