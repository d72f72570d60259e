import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { Context, Next } from "koa";
import type { Logger } from "pino";
import { RegistryError, isRegistryError, type ErrorCode } from "../oci/index.js";
import { isStorageFull } from "../storage/index.js";
import { routeOf } from "./route-table.js";

/** Errors from the socket that mean "the client went away", not a fault of ours. */
const CLIENT_GONE = new Set(["ECONNRESET", "ERR_STREAM_PREMATURE_CLOSE", "ECONNABORTED", "EPIPE"]);

/** Out of file descriptors: a condition that passes (connections close, timeouts fire), not a bug. */
const OUT_OF_DESCRIPTORS = new Set(["EMFILE", "ENFILE"]);

/** Seconds a client is asked to wait when we are out of descriptors. */
const RETRY_AFTER_SECONDS = 5;

/** The one place where an error becomes an HTTP response (spec error body). */
export function toRegistryError(err: unknown): RegistryError {
  if (isRegistryError(err)) return err;
  // Uploads meet our own reserve check first (with free-space figures); this is the kernel's
  // or SQLite's word for the same condition elsewhere.
  if (isStorageFull(err)) return new RegistryError("STORAGE_FULL", "the storage volume is full; nothing was stored");
  if (OUT_OF_DESCRIPTORS.has((err as NodeJS.ErrnoException | undefined)?.code ?? "")) {
    return new RegistryError("UNAVAILABLE", "the registry is out of file descriptors; retry shortly", { headers: { "Retry-After": String(RETRY_AFTER_SECONDS) } });
  }
  return new RegistryError("UNKNOWN", "internal server error");
}

/** An error body stays small whatever the request held (one manifest may list 24k bad layers). */
const MAX_MESSAGE_CHARS = 2048;
const MAX_DETAIL_BYTES = 16 * 1024;
const MAX_DETAIL_STRING = 1024;

function clipString(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s;
}

/** `value` with every array cut to `items` entries (and a note of how many were left out). */
function cutArrays(value: unknown, items: number): unknown {
  if (typeof value === "string") return clipString(value, MAX_DETAIL_STRING);
  if (Array.isArray(value)) {
    const kept = value.slice(0, items).map((v) => cutArrays(v, items));
    return value.length > items ? [...kept, `… ${value.length - items} more`] : kept;
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cutArrays(v, items)]));
  }
  return value;
}

/** The spec error body for `error`, its detail cut to a bounded size. */
export function errorBody(error: RegistryError): { errors: [{ code: string; message: string; detail?: unknown }] } {
  const entry = error.toJSON();
  entry.message = clipString(entry.message, MAX_MESSAGE_CHARS);
  if (entry.detail !== undefined && (JSON.stringify(entry.detail)?.length ?? 0) > MAX_DETAIL_BYTES) {
    const cut = [100, 10, 1].map((n) => cutArrays(entry.detail, n)).find((d) => JSON.stringify(d).length <= MAX_DETAIL_BYTES);
    entry.detail = cut ?? { truncated: true };
  }
  return { errors: [entry] };
}

export function errorMiddleware(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      if (ctx.req.destroyed && code && CLIENT_GONE.has(code)) {
        // Nothing to answer: the upload code already rolled back whatever the client sent.
        logger.info({ reqId: ctx.state.requestId, method: ctx.method, path: ctx.path }, "client closed the connection mid-request");
        ctx.res.destroy();
        return;
      }
      const error = toRegistryError(err);
      if (error.code === "UNKNOWN") logger.error({ err, reqId: ctx.state.requestId }, "request failed");
      else if (error.code === "UNAVAILABLE") logger.warn({ err, reqId: ctx.state.requestId }, "out of file descriptors: answered 503");
      // Operators must see a full volume in the logs, not only in the client's error.
      else if (error.code === "STORAGE_FULL") logger.warn({ reqId: ctx.state.requestId, method: ctx.method, path: ctx.path, detail: error.detail }, error.message);
      if (ctx.headerSent) {
        // Too late for an error body: cut the stream so the client sees a short read, not junk.
        ctx.res.destroy();
        return;
      }
      ctx.status = error.status;
      ctx.set(error.headers);
      ctx.type = "application/json";
      const route = routeOf(ctx);
      ctx.body = route?.errorBody ? route.errorBody(error) : errorBody(error);
    }
  };
}

/** What Node's parser refused, as the spec error it is (before any request object exists). */
const PARSER_ERRORS: Record<string, ErrorCode> = {
  HPE_INVALID_METHOD: "UNSUPPORTED",
  HPE_HEADER_OVERFLOW: "HEADERS_TOO_LARGE",
  ERR_HTTP_REQUEST_TIMEOUT: "REQUEST_TIMEOUT",
};

/**
 * The server's `clientError`: answer with a spec error body where the socket can still take a
 * response (Node's own answer is a bare status line), then close the connection.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // Node's rule: never write into a response that has started (the current one is _httpMessage).
  const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === "ECONNRESET" || !socket.writable || current?.headersSent) {
    socket.destroy();
    return;
  }
  const code = PARSER_ERRORS[err.code ?? ""] ?? "BAD_REQUEST";
  const message = code === "BAD_REQUEST" ? `malformed HTTP request (${err.code ?? "parse error"})` : undefined;
  const error = new RegistryError(code, message);
  const body = JSON.stringify(errorBody(error));
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Docker-Distribution-API-Version: registry/2.0\r\n" +
      "Connection: close\r\n\r\n" +
      body,
  );
}
