import type { Context } from "koa";
import { RegistryError, type Reference } from "../../oci/index.js";
import type { ManifestRecord } from "../../meta/index.js";
import { lookupReferenceParam, queryParams, readBody, referenceParam, repositoryParam } from "../request.js";
import type { RouteDescriptor } from "../route-table.js";
import { respondEmpty, type RouteDeps } from "./context.js";

/**
 * Content negotiation: a client that lists media types in Accept gets the manifest only if its
 * type is among them (or a wildcard is), as distribution does; otherwise 404, so that an old
 * client never receives a document it cannot parse.
 */
function acceptable(ctx: Context, mediaType: string): boolean {
  const accepted = ctx.get("Accept")
    .split(",")
    .map((part) => part.split(";")[0]!.trim().toLowerCase())
    .filter((part) => part !== "");
  if (accepted.length === 0) return true;
  const [type] = mediaType.split("/");
  return accepted.some((a) => a === "*/*" || a === mediaType || a === `${type}/*`);
}

async function lookup(ctx: Context, deps: RouteDeps): Promise<{ record: ManifestRecord; reference: Reference }> {
  const repository = repositoryParam(ctx);
  const reference = lookupReferenceParam(ctx);
  const record = await deps.registry.manifests.get(repository, reference);
  if (!acceptable(ctx, record.mediaType)) {
    throw new RegistryError("MANIFEST_UNKNOWN", `manifest is ${record.mediaType}, which the Accept header does not allow`, {
      detail: { mediaType: record.mediaType },
    });
  }
  ctx.set({ "Docker-Content-Digest": record.digest, ETag: `"${record.digest}"` });
  ctx.type = record.mediaType;
  return { record, reference };
}

/** GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference> */
export function manifestRoutes(deps: RouteDeps): RouteDescriptor[] {
  const { registry } = deps;

  const head = async (ctx: Context) => {
    const { record } = await lookup(ctx, deps);
    ctx.status = 200;
    ctx.length = record.size;
  };

  const get = async (ctx: Context) => {
    const { record } = await lookup(ctx, deps);
    if (ctx.get("If-None-Match") === `"${record.digest}"`) {
      ctx.status = 304;
      return;
    }
    ctx.status = 200;
    ctx.body = record.content;
    ctx.type = record.mediaType;
  };

  const put = async (ctx: Context) => {
    const repository = repositoryParam(ctx);
    const reference = referenceParam(ctx);
    const body = await readBody(ctx, registry.config.storage.maxManifestBytes);
    const result = await registry.manifests.put(repository, reference, body, ctx.get("Content-Type"), queryParams(ctx, "tag"));
    const headers: Record<string, string> = {
      Location: `/v2/${repository}/manifests/${result.digest.value}`,
      "Docker-Content-Digest": result.digest.value,
    };
    if (result.subject) headers["OCI-Subject"] = result.subject;
    respondEmpty(ctx, 201, headers);
  };

  const remove = async (ctx: Context) => {
    if (!registry.config.delete.enabled) throw new RegistryError("UNSUPPORTED", "deletes are disabled on this registry");
    await registry.manifests.delete(repositoryParam(ctx), lookupReferenceParam(ctx));
    respondEmpty(ctx, 202);
  };

  return [{ name: "manifest", path: "/v2/*name/manifests/:reference", access: "repository", handlers: { HEAD: head, GET: get, PUT: put, DELETE: remove } }];
}
