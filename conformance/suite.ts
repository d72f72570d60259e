import { randomBytes } from "node:crypto";
import { CheckFailed, Created, Pusher } from "./checks.js";
import { WORKFLOWS, type AddCheck, type CheckFn, type Context, type Workflow } from "./context.js";
import { discoveryChecks } from "./discovery.js";
import { RegistryClient, type Credentials } from "./http.js";
import { managementChecks } from "./management.js";
import { pullChecks } from "./pull.js";
import { pushChecks } from "./push.js";

export { WORKFLOWS, need, type AddCheck, type CheckFn, type Context, type Workflow } from "./context.js";

export interface ConformanceOptions {
  /** The registry's base URL, e.g. http://127.0.0.1:5000. */
  url: string;
  /** Repositories are created as `<namespace>/<random>-<workflow…>`; default `conformance`. */
  namespace?: string;
  credentials?: Credentials;
  /** Shorthand for `credentials`. */
  user?: string;
  password?: string;
  /** Run only these workflows (default: all four). */
  only?: Workflow[];
  /** Leave what the run pushed in the registry (default: delete it at the end, where the registry lets us). */
  keep?: boolean;
  /** Per-request timeout (default 60 s). */
  timeoutMs?: number;
}

export interface CheckResult {
  workflow: Workflow;
  name: string;
  ok: boolean;
  /** Why it failed: what was expected and the status and headers that came back. */
  reason?: string;
  /** How a passing check passed when the spec allows more than one behaviour (e.g. 202 instead of 201). */
  note?: string;
}

export function checkName(r: { workflow: Workflow; name: string }): string {
  return `${r.workflow}: ${r.name}`;
}

const BUILDERS: Record<Workflow, (ctx: Context, add: AddCheck) => void> = {
  pull: pullChecks,
  push: pushChecks,
  discovery: discoveryChecks,
  management: managementChecks,
};

/** Every check's `workflow: name`, in run order (for listings; builds the checks without running them). */
export function listChecks(): string[] {
  const client = new RegistryClient("http://127.0.0.1:1");
  const created = new Created();
  const ctx: Context = { client, created, push: new Pusher(client, created), repo: (s) => `x/${s}`, unknownRepo: "x/unknown" };
  const names: string[] = [];
  for (const workflow of WORKFLOWS) BUILDERS[workflow](ctx, (name) => names.push(checkName({ workflow, name })));
  return names;
}

/**
 * Run the OCI Distribution-spec v1.1 conformance checks against `options.url`.
 * Checks run in order, each isolated: an exception fails that check only, and a check whose
 * set-up failed says so instead of cascading into unrelated errors.
 */
export async function runConformance(options: ConformanceOptions, onResult?: (r: CheckResult) => void): Promise<{ results: CheckResult[] }> {
  const credentials = options.credentials ?? (options.user !== undefined ? { user: options.user, password: options.password ?? "" } : undefined);
  const client = new RegistryClient(options.url, credentials, options.timeoutMs);
  const namespace = (options.namespace ?? "conformance").replace(/^\/+|\/+$/g, "");
  const run = randomBytes(4).toString("hex");
  const created = new Created();
  const ctx: Context = {
    client,
    created,
    push: new Pusher(client, created),
    repo: (suffix) => `${namespace}/${run}-${suffix}`,
    unknownRepo: `${namespace}/${run}-never-pushed`,
  };
  const only = new Set(options.only ?? WORKFLOWS);
  const results: CheckResult[] = [];
  try {
    for (const workflow of WORKFLOWS) {
      if (!only.has(workflow)) continue;
      const checks: { name: string; run: CheckFn }[] = [];
      BUILDERS[workflow](ctx, (name, fn) => checks.push({ name, run: fn }));
      for (const check of checks) {
        let result: CheckResult;
        try {
          const note = await check.run();
          result = { workflow, name: check.name, ok: true, ...(note ? { note } : {}) };
        } catch (err) {
          const reason = err instanceof CheckFailed ? err.message : `unexpected error: ${describeError(err)}`;
          result = { workflow, name: check.name, ok: false, reason };
        }
        results.push(result);
        onResult?.(result);
      }
    }
  } finally {
    if (!options.keep) await cleanUp(client, created);
  }
  return { results };
}

/** An exception's message with its cause (fetch says only "fetch failed"; the cause says ECONNREFUSED). */
function describeError(err: unknown): string {
  const e = err as Error & { cause?: { message?: string; code?: string } };
  const cause = e.cause ? `: ${e.cause.code ?? ""}${e.cause.code && e.cause.message ? " " : ""}${e.cause.message ?? ""}` : "";
  return `${e.message}${cause}`;
}

/** Delete what the run created, newest first (manifests, then blobs, then open sessions); errors are ignored. */
async function cleanUp(client: RegistryClient, created: Created): Promise<void> {
  const quietly = async (path: string) => {
    try {
      await client.request(path, { method: "DELETE" });
    } catch {
      // best effort: deletion may be disabled, or the content already gone
    }
  };
  const seen = new Set<string>();
  for (const { repo, digest } of [...created.manifests].reverse()) {
    if (seen.has(`${repo}@${digest}`)) continue;
    seen.add(`${repo}@${digest}`);
    await quietly(`/v2/${repo}/manifests/${digest}`);
  }
  for (const { repo, digest } of [...created.blobs].reverse()) {
    if (seen.has(`${repo}@${digest}`)) continue;
    seen.add(`${repo}@${digest}`);
    await quietly(`/v2/${repo}/blobs/${digest}`);
  }
  for (const session of created.sessions) await quietly(session);
}
