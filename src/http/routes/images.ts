import type { Context } from "koa";
import { isDiskFormat } from "../../disk/types.js";
import { isOwnerKind } from "../../index/owner.js";
import { getImage, listImages, type ImageCursor, type ImageFilter } from "../../index/query.js";
import { RegistryError, isValidTag, parseDigest, parseRepositoryName, parseTag } from "../../oci/index.js";
import { MAX_PAGE_SIZE, pageParams, queryParam, repositoryParam } from "../request.js";
import type { RouteDescriptor } from "../route-table.js";
import type { RouteDeps } from "./context.js";

/**
 * The virtualization index: what the platform asks about an image (format, sizes, CD-ROM,
 * checksums) without pulling it. Same access as pull: the list shows only repositories the
 * caller may pull from; one image needs pull on its repository.
 */
export const IMAGES_PATH = "/api/v1/images";

/** A Kubernetes namespace (RFC 1123 label). */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function invalid(message: string, detail: unknown): RegistryError {
  return new RegistryError("REQUEST_INVALID", message, { detail });
}

function imageFilter(ctx: Context): ImageFilter {
  const kind = queryParam(ctx, "kind");
  const namespace = queryParam(ctx, "namespace");
  const format = queryParam(ctx, "format");
  if (kind !== undefined && !isOwnerKind(kind)) throw invalid("kind must be ClusterVirtualImage, VirtualImage, VirtualDisk or Image", { kind });
  if (namespace !== undefined && !NAMESPACE.test(namespace)) throw invalid("namespace is not a valid Kubernetes namespace", { namespace });
  if (format !== undefined && !isDiskFormat(format)) throw invalid("format must be qcow2, raw, vmdk, vdi or iso", { format });
  return { kind, namespace, format };
}

/** `last` is `<repository>:<tag>` of the previous page's last entry (neither part holds a colon). */
function parseCursor(last: string): ImageCursor {
  const colon = last.indexOf(":");
  const repository = last.slice(0, colon);
  const tag = last.slice(colon + 1);
  if (colon < 0 || !isValidTag(tag)) throw invalid("last must be <repository>:<tag>", { last });
  return { repository: parseRepositoryName(repository), tag };
}

/** The next page keeps the filters, as the tags list's Link keeps `n`. */
function nextLink(filter: ImageFilter, limit: number, next: ImageCursor): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filter)) if (value !== undefined) query.set(key, value as string);
  query.set("n", String(limit));
  query.set("last", `${next.repository}:${next.tag}`);
  return `<${IMAGES_PATH}?${query.toString()}>; rel="next"`;
}

export function imageRoutes({ registry, canRead }: RouteDeps): RouteDescriptor[] {
  const list = async (ctx: Context) => {
    const filter = imageFilter(ctx);
    const page = pageParams(ctx, parseCursor);
    const limit = page.limit ?? MAX_PAGE_SIZE;
    const after = page.last === undefined ? undefined : parseCursor(page.last);
    const { images, next } = await listImages(registry.meta, filter, { limit, after }, canRead(ctx));
    if (next) ctx.set("Link", nextLink(filter, limit, next));
    ctx.body = { images };
  };

  const one = async (ctx: Context) => {
    const repository = repositoryParam(ctx);
    if (!canRead(ctx)(repository)) throw new RegistryError("DENIED", undefined, { detail: { name: repository } });
    const tag = queryParam(ctx, "tag");
    const digest = queryParam(ctx, "digest");
    if (tag !== undefined && digest !== undefined) throw invalid("give tag or digest, not both", { tag, digest });
    const reference = digest !== undefined ? { digest: parseDigest(digest).value } : { tag: parseTag(tag ?? "latest") };
    ctx.body = await getImage(registry.meta, repository, reference);
  };

  return [
    // The listing needs catalog access, as /v2/_catalog (and lists only pullable repositories).
    { name: "images", path: IMAGES_PATH, access: "catalog", handlers: { GET: list } },
    { name: "image", path: `${IMAGES_PATH}/*name`, access: "repository-pull", handlers: { GET: one } },
  ];
}
