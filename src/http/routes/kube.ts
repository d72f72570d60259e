import { PassThrough } from "node:stream";
import type { Context } from "koa";
import type { Logger } from "pino";
import { isRegistryError, type RegistryError } from "../../oci/index.js";
import { apiGroup, apiGroupList, apiResourceList, OPENAPI_V2_CONTENT_TYPE, SERVER_VERSION } from "../../kube/discovery.js";
import { parseJsonBody } from "../../kube/merge-patch.js";
import { StoreConflict, type KubeObject, type ObjectChange } from "../../kube/object-store.js";
import { apiVersionOf, conflictOf, type ResourceApi, type Subresource, type WriteOptions, type WriteResult } from "../../kube/resource.js";
import type { FieldValidation } from "../../kube/schema.js";
import { selectorOf, type Selector } from "../../kube/selectors.js";
import { KubeError, isKubeError, type StatusReason } from "../../kube/status.js";
import { tableOf, wantsTable, type IncludeObject } from "../../kube/table.js";
import { readBody } from "../request.js";
import { watchStream } from "../idle-timeouts.js";
import type { RouteDescriptor } from "../route-table.js";

/** Objects are a few KiB; a body beyond this is not one. */
const MAX_OBJECT_BYTES = 1024 * 1024;

/** A watch the client does not read is ended once this much is queued for it. */
const MAX_WATCH_BACKLOG = 8 * 1024 * 1024;

/** Watches end after this long at the latest (the API server's default request timeout range). */
const MAX_WATCH_SECONDS = 30 * 60;

const REGISTRY_TO_STATUS: Record<string, StatusReason> = {
  UNAUTHORIZED: "Unauthorized",
  DENIED: "Forbidden",
  TOOMANYREQUESTS: "TooManyRequests",
  SIZE_INVALID: "RequestEntityTooLarge",
  UNSUPPORTED: "MethodNotAllowed",
  UNAVAILABLE: "InternalError",
};

export interface KubeApiDeps {
  resources: ResourceApi[];
  logger: Logger;
}

function query(ctx: Context, key: string): string | undefined {
  const v = ctx.query[key];
  return Array.isArray(v) ? v[0] : v;
}

function sendStatus(ctx: Context, err: KubeError): void {
  ctx.status = err.code;
  ctx.set(err.headers);
  ctx.type = "application/json";
  ctx.body = err.toStatus();
}

/** A registry error (authorization, rate limit, a full volume) in Kubernetes' terms. */
function statusOfRegistryError(e: RegistryError): KubeError {
  const reason = REGISTRY_TO_STATUS[e.code] ?? (e.status === 404 ? "NotFound" : e.status < 500 ? "BadRequest" : "InternalError");
  return new KubeError(reason, e.message, undefined, e.headers);
}

function toKubeError(err: unknown, api: ResourceApi | undefined): KubeError | undefined {
  if (isKubeError(err)) return err;
  if (api && err instanceof StoreConflict) {
    const mapped = conflictOf(api.definition, err);
    if (isKubeError(mapped)) return mapped;
  }
  if (isRegistryError(err)) return statusOfRegistryError(err as RegistryError);
  return undefined;
}

function fieldValidationOf(ctx: Context): FieldValidation {
  const v = query(ctx, "fieldValidation");
  if (v === undefined || v === "") return "Warn";
  if (v === "Strict" || v === "Warn" || v === "Ignore") return v;
  throw new KubeError("BadRequest", `fieldValidation parameter unsupported: ${v}: valid values are Strict, Warn and Ignore`);
}

function writeOptions(ctx: Context): WriteOptions {
  const dryRun = ctx.query.dryRun;
  const values = Array.isArray(dryRun) ? dryRun : dryRun ? [dryRun] : [];
  if (values.some((v) => v !== "All")) throw new KubeError("BadRequest", `Invalid dry run value: ${values.join(",")}`);
  return { dryRun: values.length > 0, fieldValidation: fieldValidationOf(ctx) };
}

function includeObjectOf(ctx: Context): IncludeObject {
  const v = query(ctx, "includeObject") ?? "Metadata";
  if (v === "None" || v === "Metadata" || v === "Object") return v;
  throw new KubeError("BadRequest", `includeObject must be None, Metadata or Object, not ${v}`);
}

/**
 * The Kubernetes-compatible API of dvcr's resources (ClusterVirtualImage), on the registry's own
 * port: discovery, CRUD with merge patch, the status subresource, watches, Table printing and
 * Status errors — what kubectl needs to drive it. `/version` is public (kubectl reads it before
 * anything); the rest needs `registry:kubernetes:*` (admin). Not `/api/…`: that is dvcr's own
 * operations API; kubectl takes its 404 on `/api` as "no core group".
 */
export function kubeRoutes(deps: KubeApiDeps): RouteDescriptor[] {
  const definitions = deps.resources.map((r) => r.definition);
  const byPath = new Map(deps.resources.map((r) => [`/apis/${apiVersionOf(r.definition)}/${r.definition.plural}`, r]));
  // Errors before the handler (authorization, 405) are Status objects too.
  const errorBody = (error: RegistryError) => statusOfRegistryError(error).toStatus();

  const serveApis = async (ctx: Context): Promise<void> => {
    const path = ctx.path.replace(/\/+$/, "") || "/";
    let api: ResourceApi | undefined;
    try {
      if (path === "/apis") return void (ctx.body = apiGroupList(definitions));
      const parts = path.split("/").slice(1); // apis, group, version, plural, name, sub
      if (parts.length === 2) return void (ctx.body = found(apiGroup(definitions, parts[1]!), path));
      if (parts.length === 3) return void (ctx.body = found(apiResourceList(definitions, `${parts[1]}/${parts[2]}`), path));
      if (parts.length > 6) throw new KubeError("NotFound", `the server could not find the requested resource (${ctx.method} ${path})`);
      api = byPath.get(`/${parts.slice(0, 4).join("/")}`);
      if (!api) throw new KubeError("NotFound", "the server could not find the requested resource");
      const name = parts[4];
      const sub = parts[5];
      if (sub !== undefined && sub !== "status") throw new KubeError("NotFound", "the server could not find the requested resource");
      await serveResource(ctx, api, name, sub === "status" ? "status" : "main");
    } catch (err) {
      const kube = toKubeError(err, api);
      if (!kube) {
        deps.logger.error({ err, reqId: ctx.state.requestId, path }, "kubernetes API request failed");
        return sendStatus(ctx, new KubeError("InternalError", "Internal error occurred: see the server log"));
      }
      if (ctx.headerSent) return void ctx.res.destroy();
      sendStatus(ctx, kube);
    }
  };

  // kubectl apply validates against this document; an empty one (no schemas) lets every field through to our own validation.
  const openapi = async (ctx: Context): Promise<void> => {
    ctx.status = 200;
    ctx.set("Content-Type", OPENAPI_V2_CONTENT_TYPE);
    ctx.body = Buffer.alloc(0);
  };

  return [
    { name: "kube_version", path: "/version", access: "public", handlers: { GET: async (ctx) => void (ctx.body = SERVER_VERSION) } },
    {
      name: "kube_api",
      path: "/apis{/*rest}",
      access: "kubernetes",
      errorBody,
      handlers: { GET: serveApis, POST: serveApis, PUT: serveApis, PATCH: serveApis, DELETE: serveApis },
    },
    { name: "kube_openapi", path: "/openapi/v2", access: "kubernetes", errorBody, handlers: { GET: openapi } },
  ];
}

function found<T>(value: T | undefined, path: string): T {
  if (value === undefined) throw new KubeError("NotFound", `the server could not find the requested resource (${path})`);
  return value;
}

function selectorFromQuery(ctx: Context, name?: string): Selector {
  const fields = [query(ctx, "fieldSelector"), name !== undefined ? `metadata.name=${name}` : undefined].filter((f) => f);
  return selectorOf(query(ctx, "labelSelector"), fields.join(",") || undefined);
}

async function bodyOf(ctx: Context): Promise<unknown> {
  return parseJsonBody(await readBody(ctx, MAX_OBJECT_BYTES));
}

function answerWrite(ctx: Context, result: WriteResult, status: number): void {
  if (result.warnings.length > 0) ctx.set("Warning", result.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(", "));
  ctx.status = status;
  ctx.body = result.object;
}

const MERGE_PATCH = "application/merge-patch+json";

async function serveResource(ctx: Context, api: ResourceApi, name: string | undefined, subresource: Subresource): Promise<void> {
  const method = ctx.method;
  if (name === undefined) {
    if (method === "GET" && query(ctx, "watch") !== undefined && query(ctx, "watch") !== "false" && query(ctx, "watch") !== "0") {
      return serveWatch(ctx, api, selectorFromQuery(ctx));
    }
    if (method === "GET") return serveList(ctx, api);
    if (method === "POST") return answerWrite(ctx, await api.create(await bodyOf(ctx), writeOptions(ctx)), 201);
    throw new KubeError("MethodNotAllowed", `the server does not allow this method on the requested resource (${method})`);
  }
  switch (method) {
    case "GET": {
      if (query(ctx, "watch") === "true" || query(ctx, "watch") === "1") return serveWatch(ctx, api, selectorFromQuery(ctx, name));
      const object = await api.get(name);
      ctx.body = wantsTable(ctx.get("Accept")) ? tableFor(ctx, api, [object], object.metadata.resourceVersion) : object;
      return;
    }
    case "PUT":
      return answerWrite(ctx, await api.replace(name, await bodyOf(ctx), subresource, writeOptions(ctx)), 200);
    case "PATCH": {
      const type = (ctx.get("Content-Type") || "").split(";")[0]!.trim();
      if (type !== MERGE_PATCH) {
        throw new KubeError(
          "UnsupportedMediaType",
          `the body of the request was in an unknown format - accepted media types include: ${MERGE_PATCH}` +
            (type === "application/strategic-merge-patch+json" ? " (strategic merge patch is not supported for custom resources: use --type merge)" : ""),
        );
      }
      return answerWrite(ctx, await api.patch(name, await bodyOf(ctx), subresource, writeOptions(ctx)), 200);
    }
    case "DELETE": {
      if (subresource !== "main") throw new KubeError("MethodNotAllowed", "the status subresource cannot be deleted");
      const raw = await readBody(ctx, MAX_OBJECT_BYTES);
      const options = raw.length > 0 ? (parseJsonBody(raw) as { preconditions?: { uid?: string; resourceVersion?: string }; dryRun?: string[] }) : {};
      const dryRun = writeOptions(ctx).dryRun || (Array.isArray(options.dryRun) && options.dryRun.includes("All"));
      const { object } = await api.delete(name, { dryRun, preconditions: options.preconditions });
      ctx.status = 200;
      ctx.body = object;
      return;
    }
    default:
      throw new KubeError("MethodNotAllowed", `the server does not allow this method on the requested resource (${method})`);
  }
}

function tableFor(ctx: Context, api: ResourceApi, objects: KubeObject[], resourceVersion: string, next?: string) {
  const now = Date.now();
  return tableOf(objects, api.definition.columns, (o) => api.definition.cells(o, now), includeObjectOf(ctx), {
    resourceVersion,
    ...(next ? { continue: next } : {}),
  });
}

/** `limit`/`continue`: the continue token is the last name returned (objects list by name). */
async function serveList(ctx: Context, api: ResourceApi): Promise<void> {
  const { items, resourceVersion } = await api.list(selectorFromQuery(ctx));
  const limitText = query(ctx, "limit");
  const limit = limitText ? Number(limitText) : 0;
  if (!Number.isInteger(limit) || limit < 0) throw new KubeError("BadRequest", `limit must be a non-negative integer, not ${limitText}`);
  const token = query(ctx, "continue");
  const after = token ? Buffer.from(token, "base64url").toString("utf8") : undefined;
  let page = after !== undefined ? items.filter((o) => o.metadata.name > after) : items;
  let next: string | undefined;
  if (limit > 0 && page.length > limit) {
    page = page.slice(0, limit);
    next = Buffer.from(page[page.length - 1]!.metadata.name, "utf8").toString("base64url");
  }
  if (wantsTable(ctx.get("Accept"))) {
    ctx.body = tableFor(ctx, api, page, resourceVersion, next);
    return;
  }
  const d = api.definition;
  ctx.body = { apiVersion: apiVersionOf(d), kind: d.listKind, metadata: { resourceVersion, ...(next ? { continue: next } : {}) }, items: page };
}

/**
 * A watch: a chunked 200 of `{"type","object"}` lines. Without a resourceVersion (or "0") it
 * starts with the current objects as ADDED, as the API server does; with one it resumes after
 * it from the change log (410 Expired once compacted away). Table watches get one-row Tables.
 */
async function serveWatch(ctx: Context, api: ResourceApi, selector: Selector): Promise<void> {
  const asTable = wantsTable(ctx.get("Accept"));
  const include = asTable ? includeObjectOf(ctx) : "Object";
  const rvText = query(ctx, "resourceVersion");
  const timeoutText = query(ctx, "timeoutSeconds");
  const timeout = timeoutText ? Number(timeoutText) : 0;
  if (!Number.isFinite(timeout) || timeout < 0) throw new KubeError("BadRequest", `timeoutSeconds must be a non-negative number, not ${timeoutText}`);
  let from: number;
  let initial: KubeObject[] = [];
  if (rvText === undefined || rvText === "" || rvText === "0") {
    const list = await api.list(selector);
    initial = list.items;
    from = Number(list.resourceVersion);
  } else {
    from = Number(rvText);
    if (!Number.isInteger(from) || from < 0) throw new KubeError("BadRequest", `invalid resource version: ${rvText}`);
  }
  const stream = new PassThrough();
  let end = () => {};
  const render = (type: ObjectChange["type"], object: KubeObject) => {
    const payload = asTable
      ? tableOf([object], api.definition.columns, (o) => api.definition.cells(o, Date.now()), include, { resourceVersion: object.metadata.resourceVersion })
      : object;
    stream.write(`${JSON.stringify({ type, object: payload })}\n`);
    // A watcher that stops reading must not pin memory: end it, it will rewatch from its resourceVersion.
    if (stream.writableLength > MAX_WATCH_BACKLOG) {
      end();
      ctx.res.destroy();
    }
  };
  const stop = await api.watch(from, selector, (change) => render(change.type, change.object), initial.map((o) => o.metadata.name), () => end());
  const timer = setTimeout(() => end(), Math.min(timeout > 0 ? timeout : MAX_WATCH_SECONDS, MAX_WATCH_SECONDS) * 1000);
  end = () => {
    end = () => {};
    stop();
    clearTimeout(timer);
    stream.end();
  };
  ctx.req.on("close", () => end());
  ctx.res.on("close", () => end());
  // Quiet for minutes by nature: not a stalled reader (the backlog bound above is).
  watchStream(ctx.res);
  ctx.status = 200;
  ctx.type = "application/json";
  ctx.set("Cache-Control", "no-cache, private");
  ctx.set("Transfer-Encoding", "chunked");
  ctx.body = stream;
  for (const object of initial) render("ADDED", object);
  // Node sends the headers with the first byte; a watch with nothing to tell yet must still be
  // answered (clients wait for the status line before they count the watch as open).
  setImmediate(() => {
    if (!ctx.res.headersSent && !ctx.res.destroyed) ctx.res.flushHeaders();
  });
}
