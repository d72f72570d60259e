import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { ImportError, kindOfStatus, OUT_OF_SPACE } from "./errors.js";
import { RegistryAuth } from "./registry-auth.js";
import type { BasicCredentials } from "./types.js";

type Response = Dispatcher.ResponseData;

export interface RegistryClientOptions {
  /** Base URL: scheme, host and port (`http://127.0.0.1:5000`). */
  base: string;
  dispatcher: Dispatcher;
  credentials?: BasicCredentials;
  signal?: AbortSignal;
}

/**
 * A request body: bytes, or a stream opened for each attempt (a 401 answered with a token sends
 * the request again, and a stream cannot be read twice).
 */
export type RequestBody = Buffer | (() => Promise<Readable>);

interface RequestOptions {
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Token scope, `repository:<name>:<actions>` (space-separated for several). */
  scope: string;
  /** Statuses that are answers, not failures. */
  expect: number[];
}

function header(res: Response, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The spec error body's first message, or the start of whatever the body was. */
function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const first = body.errors?.[0];
    if (first) return `${first.code ?? "UNKNOWN"}: ${first.message ?? ""}`;
  } catch {
    // not JSON
  }
  return text.slice(0, 300);
}

export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}

/**
 * A Distribution-spec client for exactly what the importer does, over HTTP so that it works
 * against any registry (dvcr, the reference, a mirror). Bodies are Buffers (manifests, configs,
 * upload chunks) or streams opened again for each attempt: every request can be sent again after
 * a 401 or a dropped connection.
 */
export class RegistryClient {
  readonly base: string;
  private readonly auth: RegistryAuth;

  constructor(private readonly options: RegistryClientOptions) {
    this.base = options.base.replace(/\/+$/, "");
    this.auth = new RegistryAuth(options.dispatcher, options.credentials, options.signal);
  }

  url(pathOrUrl: string): URL {
    return new URL(pathOrUrl, `${this.base}/`);
  }

  async request(method: string, pathOrUrl: string, options: RequestOptions): Promise<Response> {
    const url = this.url(pathOrUrl);
    for (let attempt = 0; ; attempt++) {
      const authorization = this.auth.header(options.scope);
      const body = typeof options.body === "function" ? await options.body() : options.body;
      let res: Response;
      try {
        res = await this.options.dispatcher.request({
          origin: url.origin,
          path: url.pathname + url.search,
          method: method as Dispatcher.HttpMethod,
          headers: { ...options.headers, ...(authorization ? { authorization } : {}) },
          body,
          signal: this.options.signal,
        });
      } finally {
        // A streamed body the request did not read to its end (it failed, or was answered early).
        if (body && !Buffer.isBuffer(body) && !body.readableEnded) body.destroy();
      }
      if (res.statusCode === 401 && attempt === 0) {
        await res.body.dump().catch(() => undefined);
        if (await this.auth.challenged(header(res, "www-authenticate"), options.scope, authorization)) continue;
        throw new ImportError("forbidden", `${method} ${url.pathname}: the registry at ${url.origin} refused the credentials (401)`);
      }
      if (options.expect.includes(res.statusCode)) return res;
      const text = await res.body.text().catch(() => "");
      throw this.failure(method, url, res.statusCode, text);
    }
  }

  private failure(method: string, url: URL, status: number, text: string): ImportError {
    const kind = kindOfStatus(status);
    const message = errorMessage(text);
    if (kind === "no-space") return new ImportError("no-space", `${OUT_OF_SPACE}: ${message}`);
    return new ImportError(kind, `${method} ${url.origin}${url.pathname}: HTTP ${status} ${message}`);
  }

  // --- blobs ---------------------------------------------------------------------------------

  async blobExists(repository: string, digest: string): Promise<boolean> {
    const res = await this.request("HEAD", `/v2/${repository}/blobs/${digest}`, { scope: pullScope(repository), expect: [200, 404] });
    await res.body.dump().catch(() => undefined);
    return res.statusCode === 200;
  }

  /** The blob's bytes [start, end] (whole blob without a range), as a stream. */
  async getBlob(repository: string, digest: string, range?: [number, number]): Promise<Readable> {
    const headers: Record<string, string> = range ? { range: `bytes=${range[0]}-${range[1]}` } : {};
    const res = await this.request("GET", `/v2/${repository}/blobs/${digest}`, { headers, scope: pullScope(repository), expect: range ? [206, 200] : [200] });
    if (range && res.statusCode === 200) {
      res.body.destroy();
      throw new ImportError("invalid", `${this.base} does not serve blob ranges`);
    }
    return res.body;
  }

  /** Cross-repository mount (201), or false when the registry opened a session instead (202). */
  async mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    const res = await this.request("POST", `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, {
      scope: `${pushScope(repository)} ${pullScope(from)}`,
      expect: [201, 202],
    });
    await res.body.dump().catch(() => undefined);
    if (res.statusCode === 202) {
      const location = header(res, "location");
      if (location) await this.cancelUpload(repository, location).catch(() => undefined);
      return false;
    }
    return true;
  }

  async startUpload(repository: string): Promise<string> {
    const res = await this.request("POST", `/v2/${repository}/blobs/uploads/`, { scope: pushScope(repository), expect: [202] });
    await res.body.dump().catch(() => undefined);
    const location = header(res, "location");
    if (!location) throw new ImportError("transient", "the registry opened an upload without a Location");
    return this.url(location).href;
  }

  /** PATCH one chunk at `start`; answers where the session continues. */
  uploadChunk(repository: string, location: string, chunk: Buffer, start: number): Promise<string> {
    return this.patch(repository, location, chunk, start, chunk.length);
  }

  /** PATCH `length` bytes at `start`, streamed from `open()` (called again when the request is resent). */
  uploadStream(repository: string, location: string, open: () => Promise<Readable>, start: number, length: number): Promise<string> {
    return this.patch(repository, location, open, start, length);
  }

  private async patch(repository: string, location: string, body: RequestBody, start: number, length: number): Promise<string> {
    const res = await this.request("PATCH", location, {
      scope: pushScope(repository),
      headers: { "content-type": "application/octet-stream", "content-range": `${start}-${start + length - 1}`, "content-length": String(length) },
      body,
      expect: [202],
    });
    await res.body.dump().catch(() => undefined);
    return this.url(header(res, "location") ?? location).href;
  }

  /** How many bytes the session holds (GET on the session: `Range: 0-<last>`). */
  async uploadedBytes(repository: string, location: string): Promise<{ location: string; bytes: number }> {
    const res = await this.request("GET", location, { scope: pushScope(repository), expect: [204] });
    await res.body.dump().catch(() => undefined);
    const range = /^(?:bytes=)?0-(\d+)$/.exec(header(res, "range") ?? "");
    return { location: this.url(header(res, "location") ?? location).href, bytes: range ? Number(range[1]) + 1 : 0 };
  }

  async finishUpload(repository: string, location: string, digest: string): Promise<void> {
    const url = this.url(location);
    url.searchParams.set("digest", digest);
    const res = await this.request("PUT", url.href, { scope: pushScope(repository), headers: { "content-length": "0" }, expect: [201] });
    await res.body.dump().catch(() => undefined);
  }

  async cancelUpload(repository: string, location: string): Promise<void> {
    const res = await this.request("DELETE", location, { scope: pushScope(repository), expect: [204, 404] });
    await res.body.dump().catch(() => undefined);
  }

  /** A small blob (config) in one POST + PUT, unless the registry already has it. */
  async pushSmallBlob(repository: string, digest: string, bytes: Buffer): Promise<void> {
    if (await this.blobExists(repository, digest)) return;
    const url = this.url(await this.startUpload(repository));
    url.searchParams.set("digest", digest);
    const res = await this.request("PUT", url.href, {
      scope: pushScope(repository),
      headers: { "content-type": "application/octet-stream", "content-length": String(bytes.length) },
      body: bytes,
      expect: [201],
    });
    await res.body.dump().catch(() => undefined);
  }

  // --- manifests -----------------------------------------------------------------------------

  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string | undefined> {
    const res = await this.request("PUT", `/v2/${repository}/manifests/${reference}`, {
      scope: pushScope(repository),
      headers: { "content-type": mediaType },
      body: bytes,
      expect: [201],
    });
    await res.body.dump().catch(() => undefined);
    return header(res, "docker-content-digest");
  }

  async getManifest(repository: string, reference: string, accept: readonly string[]): Promise<{ bytes: Buffer; mediaType: string }> {
    const res = await this.request("GET", `/v2/${repository}/manifests/${reference}`, { scope: pullScope(repository), headers: { accept: accept.join(", ") }, expect: [200] });
    const bytes = Buffer.from(await res.body.arrayBuffer());
    return { bytes, mediaType: (header(res, "content-type") ?? "").split(";")[0]!.trim() };
  }
}
