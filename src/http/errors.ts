import type { Context, Next } from "koa";
import type { Logger } from "pino";
import { RegistryError, isRegistryError } from "../oci/index.js";
import { isStorageFull } from "../storage/index.js";

/** Errors from the socket that mean "the client went away", not a fault of ours. */
const CLIENT_GONE = new Set(["ECONNRESET", "ERR_STREAM_PREMATURE_CLOSE", "ECONNABORTED", "EPIPE"]);

/** The one place where an error becomes an HTTP response (spec error body). */
export function toRegistryError(err: unknown): RegistryError {
  if (isRegistryError(err)) return err;
  // Uploads meet our own reserve check first (with free-space figures); this is the kernel's
  // or SQLite's word for the same condition elsewhere.
  if (isStorageFull(err)) return new RegistryError("STORAGE_FULL", "the storage volume is full; nothing was stored");
  return new RegistryError("UNKNOWN", "internal server error");
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
      if (ctx.headerSent) {
        // Too late for an error body: cut the stream so the client sees a short read, not junk.
        ctx.res.destroy();
        return;
      }
      ctx.status = error.status;
      ctx.set(error.headers);
      // The client may still be sending a multi-GiB body we will not store: answer and close,
      // rather than let Node read and discard the rest of it on a kept-alive connection.
      if (error.code === "STORAGE_FULL" && !ctx.req.complete) ctx.set("Connection", "close");
      ctx.type = "application/json";
      ctx.body = { errors: [error.toJSON()] };
    }
  };
}
