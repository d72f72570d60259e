import type { Context, Middleware, Next } from "koa";
import type { Logger } from "pino";
import { isImportError } from "../../importer/index.js";
import { failureMessage } from "../../cvi/controller.js";
import { UPLOAD_TOKEN, UploadRefusal, type UploadSessions } from "../../cvi/uploads.js";
import { contentLength } from "../request.js";

/** HTTP status of an import failure of an upload body. */
function statusOfFailure(err: unknown): number {
  if (!isImportError(err)) return 500;
  if (err.kind === "no-space") return 507;
  if (err.kind === "cancelled") return 410;
  if (err.kind === "transient") return 503;
  return 400;
}

/** `Content-Range: bytes <start>-<end>/<total|*>` of a resumed upload (curl -C <offset> -T). */
function resumeRange(ctx: Context): { start: number; total?: number } | undefined {
  const raw = ctx.get("Content-Range");
  if (!raw) return undefined;
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(raw.trim());
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[3] === "*" ? undefined : Number(m[3]) };
}

/**
 * The upload URLs of ClusterVirtualImages: `/upload/<token>`. The token in the path is the
 * credential (as DVCR's uploader's), so no other authentication applies. GET is the probe and
 * shows the resume offset; PUT or POST carries the disk (Content-Length or chunked).
 */
export function cviUploadRoutes(uploads: UploadSessions, logger: Logger): Middleware {
  return async function serveUpload(ctx: Context, next: Next): Promise<void> {
    const m = /^\/upload\/([^/]+)\/?$/.exec(ctx.path);
    if (!m) return next();
    const token = m[1]!;
    const answer = (status: number, body: Record<string, unknown>) => {
      ctx.status = status;
      ctx.type = "application/json";
      ctx.body = body;
    };
    if (!UPLOAD_TOKEN.test(token) || !uploads.has(token)) {
      return answer(404, { message: "no upload is expected at this URL (it is wrong, or the image was already uploaded)" });
    }
    if (ctx.method === "GET" || ctx.method === "HEAD") {
      const offset = await uploads.offset(token);
      const session = uploads.describe(token)!;
      ctx.set("Upload-Offset", String(offset));
      return answer(200, { image: session.name, receiving: session.receiving, offset, message: offset > 0 ? `resume with curl -C ${offset} -T <file> <this URL>` : "ready for the upload" });
    }
    if (ctx.method !== "PUT" && ctx.method !== "POST") {
      ctx.set("Allow", "GET, HEAD, PUT, POST");
      return answer(405, { message: "upload with PUT or POST (curl -T <file> <url>)" });
    }
    const range = resumeRange(ctx);
    const length = contentLength(ctx);
    const start = range?.start ?? 0;
    const total = range?.total ?? (length !== undefined ? start + length : undefined);
    try {
      const result = await uploads.receive(token, { body: ctx.req, start, totalBytes: total, fileName: "disk.img" });
      answer(200, { message: "upload complete: the image is being made Ready", digest: result.manifestDigest, format: result.sourceImageFormat, bytes: result.sourceImageSize });
    } catch (err) {
      if (err instanceof UploadRefusal) {
        if (err.offset !== undefined) ctx.set("Upload-Offset", String(err.offset));
        if (err.status === 409 || err.status === 416) ctx.set("Connection", "close");
        return answer(err.status, { message: err.message, ...(err.offset !== undefined ? { offset: err.offset } : {}) });
      }
      logger.info({ err: (err as Error).message }, "cvi: upload failed");
      ctx.set("Connection", "close");
      answer(statusOfFailure(err), { message: failureMessage(err) });
    }
  };
}
