import type { Config } from "../config/config.js";
import type { Operations } from "../gc/operations.js";
import { withStoppedRegistry } from "./offline-registry.js";
import { callRegistry, type UrlTarget } from "./registry-client.js";

/** Options shared by `dvcr gc` and `dvcr scrub`: where the registry is. */
export const TARGET_OPTIONS = {
  root: { type: "string" },
  url: { type: "string" },
  cacert: { type: "string" },
  insecure: { type: "boolean" },
  config: { type: "string" },
  "log-level": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export interface Target {
  root?: string;
  url?: string;
  cacert?: string;
  insecure?: boolean;
  config?: string;
  "log-level"?: string;
}

import { CliUsageError } from "./usage-error.js";

export { CliUsageError };

/** The `--url` target of a command (with its TLS options), checked once. */
export function urlTarget(values: Target): UrlTarget {
  if (values.url && values.root) throw new CliUsageError("give --root (a stopped registry) or --url (a running one), not both");
  if ((values.cacert || values.insecure) && !values.url) throw new CliUsageError("--cacert and --insecure go with --url");
  return { url: values.url!, cacert: values.cacert, insecure: values.insecure };
}

/** POST to the admin API of a running registry (credentials: registry-client.ts). */
export function callRunningRegistry(target: UrlTarget, path: string, body: unknown): Promise<unknown> {
  return callRegistry(target, path, { method: "POST", body });
}

/** The `--url` options' help, shared by every command that has them. */
export const URL_OPTIONS_HELP = `  --cacert FILE    with --url https://…: trust this PEM CA bundle
  --insecure       with --url https://…: do not verify the certificate
                   (credentials for --url, when the registry needs them: DVCR_CREDENTIALS=user:password)
`;

/**
 * Run one operation on a stopped registry's data root. Refuses (RootLockedError) while a server
 * runs on it: GC's coordination with uploads lives inside the server process. Upload sessions
 * are reconciled first, as at server start, so GC sees the same state a server would.
 */
export function withOfflineRegistry<T>(target: Target, fn: (ops: Operations, config: Config) => Promise<T>): Promise<T> {
  return withStoppedRegistry(target, async (registry) => {
    await registry.uploads.recover();
    return fn(registry.operations, registry.config);
  });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
