import type { Context } from "koa";
import { RegistryError } from "../../oci/index.js";
import { byteRange, digestParam, repositoryParam } from "../request.js";
import { sendBlobRange } from "../send-file.js";
import type { RouteDescriptor } from "../route-table.js";
import { respondEmpty, type RouteDeps } from "./context.js";

/** GET/HEAD/DELETE /v2/<name>/blobs/<digest> */
export function blobRoutes({ registry }: RouteDeps): RouteDescriptor[] {
  const describe = async (ctx: Context) => {
    const repository = repositoryParam(ctx);
    const digest = digestParam(ctx);
    const blob = await registry.blobs.stat(repository, digest);
    ctx.set({
      "Docker-Content-Digest": digest.value,
      ETag: `"${digest.value}"`,
      "Accept-Ranges": "bytes",
      // Content-addressed: the bytes behind a digest never change.
      "Cache-Control": "max-age=31536000, immutable",
    });
    ctx.type = "application/octet-stream";
    return { repository, digest, blob };
  };

  const head = async (ctx: Context) => {
    const { blob } = await describe(ctx);
    ctx.status = 200;
    ctx.length = blob.size;
  };

  const get = async (ctx: Context) => {
    const { digest, blob } = await describe(ctx);
    if (ctx.get("If-None-Match") === `"${digest.value}"`) {
      ctx.status = 304;
      return;
    }
    const range = byteRange(ctx, blob.size);
    if (blob.size === 0) {
      ctx.status = 200;
      ctx.body = Buffer.alloc(0);
      ctx.type = "application/octet-stream";
      return;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? blob.size - 1;
    // Opened before any header is set: missing bytes are still a clean 404.
    const read = await registry.blobs.read(digest, start, end);
    if ("redirect" in read) {
      // The backend serves the bytes itself (an object store's presigned URL); the spec allows 307.
      return respondEmpty(ctx, 307, { Location: read.redirect });
    }
    ctx.status = range ? 206 : 200;
    if (range) ctx.set("Content-Range", `bytes ${start}-${end}/${blob.size}`);
    ctx.type = "application/octet-stream";
    ctx.length = end - start + 1;
    await sendBlobRange(ctx, read.reader);
  };

  const remove = async (ctx: Context) => {
    if (!registry.config.delete.enabled) throw new RegistryError("UNSUPPORTED", "deletes are disabled on this registry");
    const repository = repositoryParam(ctx);
    const digest = digestParam(ctx);
    await registry.blobs.delete(repository, digest);
    respondEmpty(ctx, 202, { "Docker-Content-Digest": digest.value });
  };

  return [{ name: "blob", path: "/v2/*name/blobs/:digest", access: "repository", handlers: { HEAD: head, GET: get, DELETE: remove } }];
}
