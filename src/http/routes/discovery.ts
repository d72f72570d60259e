import type { Context } from "koa";
import { MediaType, isValidTag, parseRepositoryName, RegistryError } from "../../oci/index.js";
import { digestParam, linkHeader, pageParams, queryParam, repositoryParam } from "../request.js";
import type { RouteDescriptor } from "../route-table.js";
import type { RouteDeps } from "./context.js";

/** Tags list, catalog and referrers: the spec's content-discovery routes. */
export function discoveryRoutes({ registry }: RouteDeps): RouteDescriptor[] {
  const listCatalog = async (ctx: Context) => {
    const page = pageParams(ctx, (last) => parseRepositoryName(last));
    const { repositories, next } = await registry.manifests.catalog(page);
    if (next !== undefined) ctx.set("Link", linkHeader("/v2/_catalog", page.limit!, next));
    ctx.body = { repositories };
  };

  const listTags = async (ctx: Context) => {
    const repository = repositoryParam(ctx);
    const page = pageParams(ctx, (last) => {
      if (!isValidTag(last)) throw new RegistryError("TAG_INVALID", "last must be a tag", { detail: { last } });
    });
    const { tags, next } = await registry.manifests.tags(repository, page);
    if (next !== undefined) ctx.set("Link", linkHeader(`/v2/${repository}/tags/list`, page.limit!, next));
    ctx.body = { name: repository, tags };
  };

  const listReferrers = async (ctx: Context) => {
    const repository = repositoryParam(ctx);
    const digest = digestParam(ctx);
    const artifactType = queryParam(ctx, "artifactType");
    const referrers = await registry.manifests.referrers(repository, digest, artifactType);
    if (artifactType !== undefined) ctx.set("OCI-Filters-Applied", "artifactType");
    ctx.type = MediaType.OciIndex;
    ctx.body = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: referrers.map((m) => ({
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        ...(m.artifactType ? { artifactType: m.artifactType } : {}),
        ...(m.annotations ? { annotations: m.annotations } : {}),
      })),
    });
  };

  return [
    { name: "catalog", path: "/v2/_catalog", access: "catalog", handlers: { GET: listCatalog } },
    { name: "tags", path: "/v2/*name/tags/list", access: "repository", handlers: { GET: listTags } },
    { name: "referrers", path: "/v2/*name/referrers/:digest", access: "repository", handlers: { GET: listReferrers } },
  ];
}
