import { STAGE_HIGH_WATER_MARK } from "./buffers.js";
import path from "node:path";
import { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { ImportError, kindOfStatus } from "./errors.js";
import { RetryBudget, type RetryPolicy } from "./retry.js";
import { pieces } from "./stream-util.js";

export interface HttpDownloadOptions {
  url: string;
  dispatcher: Dispatcher;
  authorization?: string;
  policy: RetryPolicy;
  stallTimeoutMs: number;
  signal?: AbortSignal;
}

type Response = Dispatcher.ResponseData;

/** What identifies one version of the resource: a resumed range must come from the same one. */
interface Validator {
  etag?: string;
  lastModified?: string;
}

function header(res: Response, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function statusError(what: string, res: Response): ImportError {
  const kind = kindOfStatus(res.statusCode);
  const detail = kind === "not-found" ? "not found" : kind === "forbidden" ? "access denied" : "failed";
  return new ImportError(kind, `${what}: HTTP ${res.statusCode}, ${detail}`);
}

/** `filename=` of a Content-Disposition, else the last path segment of the URL. */
function fileNameOf(url: string, disposition: string | undefined): string {
  const quoted = disposition && /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const fromHeader = quoted ? path.basename(decodeURIComponent(quoted[1]!)) : "";
  const fromUrl = path.basename(decodeURIComponent(new URL(url).pathname));
  const name = fromHeader || fromUrl;
  return name && name !== "/" && name !== "." ? name : "disk.img";
}

/**
 * An HTTP resource read as one stream that survives dropped connections: each reconnection asks
 * for the rest with `Range` (validated by `If-Range`), a server that answers 200 instead is read
 * again from byte 0 and the bytes already delivered are skipped, and a connection that delivers
 * nothing for `stallTimeoutMs` is cut and resumed. Tries follow the retry policy.
 */
export class HttpDownload {
  size?: number;
  acceptsRanges = false;
  fileName = "disk.img";
  private validator: Validator = {};
  private first?: Response;

  private constructor(private readonly options: HttpDownloadOptions) {}

  static async open(options: HttpDownloadOptions): Promise<HttpDownload> {
    const download = new HttpDownload(options);
    const budget = new RetryBudget(options.policy, options.signal);
    for (;;) {
      try {
        const res = await download.get({});
        if (res.statusCode !== 200) {
          await res.body.dump().catch(() => undefined);
          throw statusError(`GET ${download.redactedUrl}`, res);
        }
        download.first = res;
        const length = header(res, "content-length");
        // A compressed transfer's length is not the file's.
        const encoded = (header(res, "content-encoding") ?? "identity") !== "identity";
        if (length !== undefined && !encoded) download.size = Number(length);
        download.acceptsRanges = header(res, "accept-ranges")?.toLowerCase() === "bytes" && download.size !== undefined;
        download.validator = { etag: header(res, "etag"), lastModified: header(res, "last-modified") };
        download.fileName = fileNameOf(options.url, header(res, "content-disposition"));
        return download;
      } catch (err) {
        await budget.failed(err, `GET ${download.redactedUrl}`);
      }
    }
  }

  /** The URL without credentials or query (presigned URLs carry secrets there). */
  get redactedUrl(): string {
    const u = new URL(this.options.url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  }

  private async get(headers: Record<string, string>): Promise<Response> {
    const { url, dispatcher, authorization, signal } = this.options;
    const res = await (dispatcher.request({
      origin: new URL(url).origin,
      path: new URL(url).pathname + new URL(url).search,
      method: "GET",
      headers: { "accept-encoding": "identity", ...(authorization ? { authorization } : {}), ...headers },
      signal,
    }) as Promise<Response>);
    // Read through an iterator or dumped; an abort after the reader left must not go unhandled.
    res.body.on("error", () => undefined);
    return res;
  }

  /** Bytes [start, end] with one ranged GET (for the xz index at the end of the file). */
  async readRange(start: number, end: number): Promise<Buffer> {
    const budget = new RetryBudget(this.options.policy, this.options.signal);
    for (;;) {
      try {
        const res = await this.get({ range: `bytes=${start}-${end}`, ...this.ifRange() });
        if (res.statusCode !== 206) {
          await res.body.dump().catch(() => undefined);
          if (res.statusCode === 200) throw new ImportError("transient", `GET ${this.redactedUrl}: the server stopped honouring Range`);
          throw statusError(`GET ${this.redactedUrl} (range)`, res);
        }
        const data = Buffer.from(await res.body.arrayBuffer());
        if (data.length !== end - start + 1) throw new ImportError("transient", `short range read: ${data.length} of ${end - start + 1} bytes`);
        return data;
      } catch (err) {
        await budget.failed(err, `GET ${this.redactedUrl} (range)`);
      }
    }
  }

  private ifRange(): Record<string, string> {
    const { etag, lastModified } = this.validator;
    // If-Range takes a strong ETag or a date; a weak ETag cannot validate a byte range.
    if (etag && !etag.startsWith("W/")) return { "if-range": etag };
    if (lastModified) return { "if-range": lastModified };
    return {};
  }

  private sameVersion(res: Response): boolean {
    const etag = header(res, "etag");
    const lastModified = header(res, "last-modified");
    return etag === this.validator.etag && lastModified === this.validator.lastModified;
  }

  /** The whole resource, once. */
  stream(): Readable {
    return Readable.from(this.chunks(), { objectMode: false, highWaterMark: STAGE_HIGH_WATER_MARK });
  }

  private async *chunks(): AsyncGenerator<Buffer> {
    const budget = new RetryBudget(this.options.policy, this.options.signal);
    let received = 0;
    let res: Response | undefined = this.first;
    this.first = undefined;
    for (;;) {
      let skip = 0;
      try {
        if (!res) ({ res, skip } = await this.reconnect(received));
        for await (const chunk of this.watched(res.body)) {
          let data = chunk;
          if (skip > 0) {
            const dropped = Math.min(skip, data.length);
            skip -= dropped;
            data = data.subarray(dropped);
            if (data.length === 0) continue;
          }
          received += data.length;
          budget.progressed();
          yield data;
        }
        if (skip > 0 || (this.size !== undefined && received < this.size)) {
          throw new ImportError("transient", `connection closed after ${received} of ${this.size} bytes`);
        }
        if (this.size !== undefined && received > this.size) {
          throw new ImportError("corrupt", `${this.redactedUrl} sent ${received} bytes, more than its Content-Length ${this.size}`);
        }
        return;
      } catch (err) {
        res?.body.destroy();
        res = undefined;
        await budget.failed(err, `download of ${this.redactedUrl}`);
      }
    }
  }

  /** Ask for the rest. Answers how many bytes of the answer repeat what was already delivered. */
  private async reconnect(received: number): Promise<{ res: Response; skip: number }> {
    const ranged = this.acceptsRanges && received > 0;
    const res = await this.get(ranged ? { range: `bytes=${received}-`, ...this.ifRange() } : {});
    if (res.statusCode === 206) {
      const start = Number(/bytes (\d+)-/.exec(header(res, "content-range") ?? "")?.[1]);
      if (start !== received) {
        res.body.destroy();
        throw new ImportError("transient", `server resumed at byte ${start}, asked for ${received}`);
      }
      return { res, skip: 0 };
    }
    if (res.statusCode === 200) {
      if (!this.sameVersion(res)) {
        res.body.destroy();
        throw new ImportError("invalid", `${this.redactedUrl} changed while it was downloaded (ETag/Last-Modified differ); start the import again`);
      }
      // No Range support (or If-Range failed on a server without validators): start over at 0.
      return { res, skip: received };
    }
    await res.body.dump().catch(() => undefined);
    throw statusError(`GET ${this.redactedUrl}`, res);
  }

  /**
   * The body's chunks; a wait for the next one longer than the stall timeout cuts the connection
   * (time spent by the reader, behind a yield, does not count). One timer per connection,
   * re-armed at each wait: a timer and a race per chunk showed in the profile of a large download.
   */
  private async *watched(body: Response["body"]): AsyncGenerator<Buffer> {
    const iterator = pieces(body);
    const stallMs = this.options.stallTimeoutMs;
    let waiting = false;
    let stalled = false;
    const timer: NodeJS.Timeout = setTimeout(() => {
      if (!waiting) return void timer.refresh();
      stalled = true;
      body.destroy();
    }, stallMs);
    const stall = () => new ImportError("transient", `no byte from ${this.redactedUrl} for ${Math.round(stallMs / 1000)} s (stalled)`);
    try {
      for (;;) {
        waiting = true;
        timer.refresh();
        const next = await iterator.next();
        waiting = false;
        if (stalled) throw stall();
        if (next.done) return;
        yield next.value;
      }
    } catch (err) {
      throw stalled ? stall() : err;
    } finally {
      clearTimeout(timer);
      await iterator.return(undefined);
    }
  }
}
