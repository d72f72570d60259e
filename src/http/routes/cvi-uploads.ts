import type { Context } from "koa";
import type { Logger } from "pino";
import { isImportError } from "../../importer/index.js";
import { failureMessage } from "../../cvi/controller.js";
import { UPLOAD_TOKEN, UploadRefusal, type UploadSessions } from "../../cvi/uploads.js";
import { contentLength, contentRange } from "../request.js";
import type { RouteDescriptor } from "../route-table.js";

/** HTTP status of an import failure of an upload body. */
function statusOfFailure(err: unknown): number {
  if (!isImportError(err)) return 500;
  if (err.kind === "no-space") return 507;
  if (err.kind === "cancelled") return 410;
  if (err.kind === "transient") return 503;
  return 400;
}

/**
 * The upload URLs of ClusterVirtualImages: `/upload/<token>`. The token in the path is the
 * credential (as DVCR's uploader's), so the route is public. GET is the probe and shows the
 * resume offset; PUT or POST carries the disk (Content-Length or chunked).
 */
export function cviUploadRoutes(uploads: UploadSessions, logger: Logger): RouteDescriptor[] {
  const answer = (ctx: Context, status: number, body: Record<string, unknown>) => {
    ctx.status = status;
    ctx.type = "application/json";
    ctx.body = body;
  };
  /** The session behind the URL's token; 404 when none. */
  const sessionToken = (ctx: Context): string | undefined => {
    const token = String(ctx.params.token);
    if (UPLOAD_TOKEN.test(token) && uploads.has(token)) return token;
    answer(ctx, 404, { message: "no upload is expected at this URL (it is wrong, or the image was already uploaded)" });
    return undefined;
  };

  const probe = async (ctx: Context): Promise<void> => {
    const token = sessionToken(ctx);
    if (!token) return;
    const offset = await uploads.offset(token);
    const session = uploads.describe(token)!;
    ctx.set("Upload-Offset", String(offset));
    answer(ctx, 200, { image: session.name, receiving: session.receiving, offset, message: offset > 0 ? `resume with curl -C ${offset} -T <file> <this URL>` : "ready for the upload" });
  };

  const receive = async (ctx: Context): Promise<void> => {
    const token = sessionToken(ctx);
    if (!token) return;
    // A resume (curl -C <offset> -T) says where it starts; a malformed range is refused, never taken for a fresh upload.
    const range = contentRange(ctx);
    const length = contentLength(ctx);
    const start = range?.start ?? 0;
    const total = range?.total ?? (range ? start + range.length : length !== undefined ? start + length : undefined);
    try {
      const result = await uploads.receive(token, { body: ctx.req, start, totalBytes: total, fileName: "disk.img" });
      answer(ctx, 200, { message: "upload complete: the image is being made Ready", digest: result.manifestDigest, format: result.sourceImageFormat, bytes: result.sourceImageSize });
    } catch (err) {
      if (err instanceof UploadRefusal) {
        if (err.offset !== undefined) ctx.set("Upload-Offset", String(err.offset));
        return answer(ctx, err.status, { message: err.message, ...(err.offset !== undefined ? { offset: err.offset } : {}) });
      }
      logger.info({ err: (err as Error).message }, "cvi: upload failed");
      answer(ctx, statusOfFailure(err), { message: failureMessage(err) });
    }
  };

  // A refused or failed body is not read to its end: the app closes the connection after the answer.
  return [
    {
      name: "cvi_upload",
      path: "/upload/:token",
      access: "public",
      streamsBlob: true,
      // Refusals before the body (a malformed Content-Range, a 405) in the same `{"message"}` shape as the route's answers.
      errorBody: (error) => ({ message: error.message }),
      handlers: { GET: probe, PUT: receive, POST: receive },
    },
  ];
}
