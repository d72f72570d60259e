import { createReadStream, statSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";

async function* throttled(source: Readable, bytesPerSecond: number): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    yield chunk as Buffer;
    await sleep(((chunk as Buffer).length / bytesPerSecond) * 1000);
  }
}

/** How the server misbehaves, per request (0-based count of GETs without Range = whole-file requests). */
export interface FileServerBehaviour {
  /** Honour `Range` (206) and advertise `Accept-Ranges: bytes` (default true). */
  ranges?: boolean;
  /** Send `Content-Length` (default true); without it the body is chunked. */
  contentLength?: boolean;
  /** Cut the connection after this many body bytes, on the first `cutTimes` body responses. */
  cutAfter?: number;
  cutTimes?: number;
  /** Stop sending (keep the connection open) after this many bytes, on the first `stallTimes` responses. */
  stallAfter?: number;
  stallTimes?: number;
  /** Answer this status to the first `failTimes` requests (e.g. 503), or to every request (`failTimes` unset). */
  failStatus?: number;
  failTimes?: number;
  /** Serve HTTPS with this certificate pair. */
  tls?: { cert: string; key: string };
  /** Send at about this rate (a slow link), in 64 KiB steps. */
  bytesPerSecond?: number;
}

export interface ServedRequest {
  method: string;
  path: string;
  range?: string;
  ifRange?: string;
  status: number;
  /** Body bytes actually written. */
  sent: number;
}

export interface FileServer {
  url(name: string): string;
  requests: ServedRequest[];
  close(): Promise<void>;
}

const ETAG = '"dvcr-test-v1"';
const LAST_MODIFIED = new Date(Date.UTC(2026, 0, 1)).toUTCString();

/** Serves the files of `dir` on 127.0.0.1, with the faults of `behaviour`. */
export async function startFileServer(dir: string, behaviour: FileServerBehaviour = {}): Promise<FileServer> {
  const ranges = behaviour.ranges ?? true;
  const withLength = behaviour.contentLength ?? true;
  const requests: ServedRequest[] = [];
  let bodies = 0;
  const sockets = new Set<import("node:net").Socket>();
  const handler: http.RequestListener = (req, res) => {
    const record: ServedRequest = { method: req.method!, path: req.url!, range: req.headers.range, ifRange: req.headers["if-range"] as string | undefined, status: 0, sent: 0 };
    requests.push(record);
    const reply = (status: number, headers: Record<string, string | number> = {}) => {
      record.status = status;
      res.writeHead(status, headers);
    };
    if (behaviour.failStatus && (behaviour.failTimes === undefined || requests.length <= behaviour.failTimes)) {
      reply(behaviour.failStatus, { "content-type": "text/plain" });
      return res.end("no");
    }
    const file = path.join(dir, decodeURIComponent(new URL(req.url!, "http://x").pathname));
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      reply(404);
      return res.end();
    }
    let start = 0;
    let end = size - 1;
    const headers: Record<string, string | number> = { "content-type": "application/octet-stream", etag: ETAG, "last-modified": LAST_MODIFIED };
    if (ranges) headers["accept-ranges"] = "bytes";
    const m = ranges ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "") : null;
    const ifRangeOk = !req.headers["if-range"] || req.headers["if-range"] === ETAG || req.headers["if-range"] === LAST_MODIFIED;
    let status = 200;
    if (m && ifRangeOk) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      status = 206;
      headers["content-range"] = `bytes ${start}-${end}/${size}`;
    }
    if (withLength) headers["content-length"] = end - start + 1;
    reply(status, headers);
    if (req.method === "HEAD") return res.end();
    const body = bodies++;
    const cut = behaviour.cutAfter !== undefined && body < (behaviour.cutTimes ?? 1) && status === 200 ? behaviour.cutAfter : undefined;
    const stall = behaviour.stallAfter !== undefined && body < (behaviour.stallTimes ?? 1) ? behaviour.stallAfter : undefined;
    const limit = cut ?? stall;
    if (limit === 0) return void res.flushHeaders(); // headers only, then silence
    const read = createReadStream(file, { start, end: limit === undefined ? end : Math.min(end, start + limit - 1), highWaterMark: 64 * 1024 });
    const rate = behaviour.bytesPerSecond;
    const stream = rate ? Readable.from(throttled(read, rate)) : read;
    stream.on("data", (chunk: Buffer) => {
      record.sent += chunk.length;
    });
    stream.pipe(res, { end: limit === undefined });
    stream.on("end", () => {
      if (cut !== undefined) res.socket?.destroy();
      // A stall keeps the connection open and silent until the client gives up.
    });
  };
  const server = behaviour.tls ? https.createServer(behaviour.tls, handler) : http.createServer(handler);
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (name) => `${behaviour.tls ? "https" : "http"}://127.0.0.1:${port}/${name}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
