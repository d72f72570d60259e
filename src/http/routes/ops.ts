import type { Context } from "koa";
import { parseDuration } from "../../config/units.js";
import type { Operations } from "../../gc/operations.js";
import { RegistryError, parseRepositoryName } from "../../oci/index.js";
import * as v from "valibot";
import { formatIssue, numberOrString, strictObject, validate } from "../../oci/schema.js";
import { readBody, repositoryParam } from "../request.js";
import type { RouteDescriptor } from "../route-table.js";

/**
 * The admin API under /api/v1/: garbage collection, scrub, repository deletion, storage and
 * task status. Every route here is for the registry's administrator only.
 */

/** Keep lists name every live image of a cluster: thousands of names, never megabytes. */
const MAX_OPS_BODY = 8 * 1024 * 1024;

const GcRequestSchema = strictObject({
  dryRun: v.optional(v.boolean()),
  grace: v.optional(numberOrString()),
  keepRepositories: v.optional(v.array(v.string())),
});

const ScrubRequestSchema = strictObject({ repository: v.optional(v.string()), repair: v.optional(v.boolean()) });

/** A JSON body (optional: empty means defaults), validated; errors name the offending field. */
async function jsonBody<S extends v.GenericSchema>(ctx: Context, schema: S): Promise<v.InferOutput<S>> {
  const raw = (await readBody(ctx, MAX_OPS_BODY)).toString("utf8").trim();
  let parsed: unknown = {};
  if (raw !== "") {
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new RegistryError("REQUEST_INVALID", "the request body is not JSON");
    }
  }
  const result = validate(schema, parsed);
  if (!result.success) {
    const message = result.issues.map((i) => formatIssue(i, "(body)")).join("; ");
    throw new RegistryError("REQUEST_INVALID", message);
  }
  return result.data;
}

function invalid(message: string): RegistryError {
  return new RegistryError("REQUEST_INVALID", message);
}

export function opsRoutes(ops: Operations): RouteDescriptor[] {
  const gc = async (ctx: Context) => {
    const body = await jsonBody(ctx, GcRequestSchema);
    let graceMs: number | undefined;
    try {
      graceMs = body.grace === undefined ? undefined : parseDuration(body.grace);
    } catch (err) {
      throw invalid(`grace: ${(err as Error).message}`);
    }
    const keepRepositories = body.keepRepositories?.map((name) => {
      try {
        return parseRepositoryName(name);
      } catch {
        throw invalid(`keepRepositories: "${name}" is not a repository name`);
      }
    });
    ctx.body = await ops.gc.run(ops.gcOptions({ dryRun: body.dryRun, graceMs, keepRepositories }), "api");
  };

  const scrub = async (ctx: Context) => {
    const body = await jsonBody(ctx, ScrubRequestSchema);
    const repository = body.repository === undefined ? undefined : parseRepositoryName(body.repository);
    ctx.body = await ops.scrub.run({ repository, repair: body.repair ?? false }, "api");
  };

  const deleteRepository = async (ctx: Context) => {
    ctx.body = await ops.deleteRepository(repositoryParam(ctx));
  };

  const storage = async (ctx: Context) => {
    ctx.body = await ops.storage();
  };

  const tasks = async (ctx: Context) => {
    ctx.body = { tasks: ops.tasks() };
  };

  return [
    { name: "gc", path: "/api/v1/gc", access: "admin", handlers: { POST: gc } },
    { name: "scrub", path: "/api/v1/scrub", access: "admin", handlers: { POST: scrub } },
    { name: "repository_delete", path: "/api/v1/repositories/*name", access: "admin", handlers: { DELETE: deleteRepository } },
    { name: "storage", path: "/api/v1/storage", access: "admin", handlers: { GET: storage } },
    { name: "tasks", path: "/api/v1/tasks", access: "admin", handlers: { GET: tasks } },
  ];
}
