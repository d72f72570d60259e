import type { Context } from "koa";
import { RegistryError, parseDigest, parseRepositoryName } from "../../oci/index.js";
import { uploadRange, type BlobInfo } from "../../registry/index.js";
import type { UploadRecord } from "../../meta/index.js";
import { contentLength, contentRange, hasBody, queryParam, repositoryParam } from "../request.js";
import type { RouteDescriptor } from "../route-table.js";
import { respondEmpty, type RouteDeps } from "./context.js";

function uploadLocation(repository: string, id: string): string {
  return `/v2/${repository}/blobs/uploads/${id}`;
}

function sessionHeaders(repository: string, upload: UploadRecord): Record<string, string> {
  return {
    Location: uploadLocation(repository, upload.id),
    Range: uploadRange(upload),
    "Docker-Upload-UUID": upload.id,
  };
}

function blobCreated(ctx: Context, repository: string, blob: BlobInfo): void {
  respondEmpty(ctx, 201, {
    Location: `/v2/${repository}/blobs/${blob.digest.value}`,
    "Docker-Content-Digest": blob.digest.value,
  });
}

function uploadIdParam(ctx: Context): string {
  const id = String(ctx.params.uuid ?? "");
  // Ids are our UUIDs; anything else cannot name a session (and never reaches a path).
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
    throw new RegistryError("BLOB_UPLOAD_UNKNOWN", undefined, { detail: { uploadId: id } });
  }
  return id;
}

/** POST /v2/<name>/blobs/uploads/ and the session routes /v2/<name>/blobs/uploads/<id>. */
export function uploadRoutes({ registry, canRead }: RouteDeps): RouteDescriptor[] {
  const { uploads, blobs } = registry;

  const start = async (ctx: Context) => {
    const repository = repositoryParam(ctx);
    const mount = queryParam(ctx, "mount");
    const digestQuery = queryParam(ctx, "digest");
    if (mount !== undefined) {
      const digest = parseDigest(mount);
      const fromQuery = queryParam(ctx, "from");
      const from = fromQuery === undefined ? undefined : parseRepositoryName(fromQuery);
      const mounted = await blobs.mount(repository, digest, from, canRead(ctx));
      if (mounted) return blobCreated(ctx, repository, mounted);
      // Not mountable: the spec says fall back to an ordinary upload session (202).
    } else if (digestQuery !== undefined) {
      const digest = parseDigest(digestQuery);
      const blob = await uploads.pushMonolithic(repository, digest, ctx.req, contentLength(ctx));
      return blobCreated(ctx, repository, blob);
    }
    const upload = await uploads.start(repository);
    respondEmpty(ctx, 202, sessionHeaders(repository, upload));
  };

  const status = async (ctx: Context) => {
    const repository = repositoryParam(ctx);
    const upload = await uploads.status(repository, uploadIdParam(ctx));
    respondEmpty(ctx, 204, sessionHeaders(repository, upload));
  };

  const append = async (ctx: Context) => {
    const repository = repositoryParam(ctx);
    const id = uploadIdParam(ctx);
    const range = contentRange(ctx);
    const length = contentLength(ctx);
    if (range && length !== undefined && range.length !== length) {
      throw new RegistryError("SIZE_INVALID", "Content-Range and Content-Length disagree", {
        detail: { contentRange: ctx.get("Content-Range"), contentLength: length },
      });
    }
    const upload = await uploads.append(repository, id, ctx.req, { start: range?.start, length: range?.length ?? length });
    respondEmpty(ctx, 202, sessionHeaders(repository, upload));
  };

  const complete = async (ctx: Context) => {
    const repository = repositoryParam(ctx);
    const id = uploadIdParam(ctx);
    const digestQuery = queryParam(ctx, "digest");
    if (digestQuery === undefined) throw new RegistryError("DIGEST_INVALID", "the digest query parameter is required");
    const digest = parseDigest(digestQuery);
    const range = contentRange(ctx);
    const body = hasBody(ctx) ? ctx.req : null;
    const blob = await uploads.complete(repository, id, digest, body, { start: range?.start, length: range?.length ?? contentLength(ctx) });
    blobCreated(ctx, repository, blob);
  };

  const cancel = async (ctx: Context) => {
    const repository = repositoryParam(ctx);
    await uploads.cancel(repository, uploadIdParam(ctx));
    respondEmpty(ctx, 204);
  };

  return [
    { name: "blob_upload", path: "/v2/*name/blobs/uploads", access: "repository", streamsBlob: true, handlers: { POST: start } },
    {
      name: "blob_upload_chunk",
      path: "/v2/*name/blobs/uploads/:uuid",
      access: "repository",
      streamsBlob: true,
      handlers: { GET: status, PATCH: append, PUT: complete, DELETE: cancel },
    },
  ];
}
