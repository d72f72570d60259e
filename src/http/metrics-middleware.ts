import type { Socket } from "node:net";
import type { Context, Next } from "koa";
import { distributionRequest } from "../metrics/distribution.js";
import { recordHttpRequest, uploadsInProgress } from "../metrics/http.js";
import { isDistributionRoute, type RouteDescriptor } from "./route-table.js";

/** A request with a body (a length above 0, or chunked). */
function carriesBody(ctx: Context): boolean {
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
 * away. Bytes include headers. The route comes from the route table when the request enters
 * one (`ctx.state.onRoute`); a request no route answered is `unmatched`.
 */
export function httpMetrics() {
  return async function recordHttpMetrics(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    const socket = ctx.req.socket;
    let route: RouteDescriptor | undefined;
    let uploading = false;
    // The families distribution exports, for dashboards made for it (metrics/distribution.ts).
    let distributionDone: ReturnType<typeof distributionRequest> | undefined;
    let recorded = false;
    ctx.state.onRoute = (entered: RouteDescriptor) => {
      if (route || recorded) return;
      route = entered;
      uploading = entered.streamsBlob === true && carriesBody(ctx);
      if (uploading) uploadsInProgress.inc();
      if (isDistributionRoute(entered.name)) distributionDone = distributionRequest(entered.name, ctx.method);
    };
    const record = () => {
      if (recorded) return;
      recorded = true;
      if (uploading) uploadsInProgress.dec();
      const method = ctx.method;
      const status = String(ctx.res.statusCode);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const before = accounted.get(socket) ?? { read: 0, written: 0 };
      const now = { read: socket.bytesRead, written: socket.bytesWritten };
      accounted.set(socket, now);
      const received = Math.max(0, now.read - before.read);
      const sent = Math.max(0, now.written - before.written);
      recordHttpRequest(route?.path ?? "unmatched", method, status, seconds, received, sent);
      distributionDone?.(status, seconds, received, sent);
    };
    ctx.res.once("finish", record);
    ctx.res.once("close", record);
    await next();
  };
}
