import type { Socket } from "node:net";
import type { Context, Next } from "koa";
import { distributionRequest } from "../metrics/distribution.js";
import { recordHttpRequest, uploadsInProgress } from "../metrics/http.js";

/** Requests that stream blob bytes into an upload session (POST ?digest=, PATCH, PUT with a body). */
function streamsUpload(ctx: Context): boolean {
  if (!["POST", "PATCH", "PUT"].includes(ctx.method) || !ctx.path.includes("/blobs/uploads")) return false;
  const length = ctx.get("Content-Length");
  return length !== "" ? length !== "0" : ctx.get("Transfer-Encoding") !== "";
}

/**
 * Socket counters already attributed to earlier requests. Node reads the first body bytes along
 * with the headers, before any middleware runs, so a request is charged with everything the
 * socket moved since the previous request on it finished (HTTP/1.1 without pipelining).
 */
const accounted = new WeakMap<Socket, { read: number; written: number }>();

/**
 * Request count, duration and bytes, recorded when the response has been sent (Koa streams a
 * blob body after the middleware returned, so `finally` would be too early) or the client went
 * away. Bytes include headers.
 */
export function httpMetrics() {
  return async function recordHttpMetrics(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    const socket = ctx.req.socket;
    const uploading = streamsUpload(ctx);
    if (uploading) uploadsInProgress.inc();
    // The families distribution exports, for dashboards made for it (metrics/distribution.ts).
    const distributionDone = distributionRequest(ctx.path, ctx.method);
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      if (uploading) uploadsInProgress.dec();
      const route = (ctx as Context & { routerPath?: string }).routerPath ?? "unmatched";
      const method = ctx.method;
      const status = String(ctx.res.statusCode);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const before = accounted.get(socket) ?? { read: 0, written: 0 };
      const now = { read: socket.bytesRead, written: socket.bytesWritten };
      accounted.set(socket, now);
      const received = Math.max(0, now.read - before.read);
      const sent = Math.max(0, now.written - before.written);
      recordHttpRequest(route, method, status, seconds, received, sent);
      distributionDone?.(status, seconds, received, sent);
    };
    ctx.res.once("finish", record);
    ctx.res.once("close", record);
    await next();
  };
}
