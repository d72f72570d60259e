import type { Config } from "../config/config.js";
import { Operations } from "../gc/operations.js";
import { withStoppedRegistry } from "./offline-registry.js";

/** Options shared by `dvcr gc` and `dvcr scrub`: where the registry is. */
export const TARGET_OPTIONS = {
  root: { type: "string" },
  url: { type: "string" },
  config: { type: "string" },
  "log-level": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export interface Target {
  root?: string;
  url?: string;
  config?: string;
  "log-level"?: string;
}

import { CliUsageError } from "./usage-error.js";

export { CliUsageError };

/**
 * Call the admin API of a running registry. Credentials, when the registry requires them, come
 * from DVCR_ADMIN_CREDENTIALS ("user:password"), never from the command line (where `ps` shows
 * them to everyone).
 */
export async function callRunningRegistry(url: string, path: string, body: unknown): Promise<unknown> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  const credentials = process.env.DVCR_ADMIN_CREDENTIALS;
  if (credentials) headers.Authorization = `Basic ${Buffer.from(credentials).toString("base64")}`;
  const res = await fetch(new URL(path, url), { method: "POST", headers, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new CliUsageError(`${url} answered ${res.status}: ${text}`);
  return JSON.parse(text) as unknown;
}

/**
 * Run one operation on a stopped registry's data root. Refuses (RootLockedError) while a server
 * runs on it: GC's coordination with uploads lives inside the server process. Upload sessions
 * are reconciled first, as at server start, so GC sees the same state a server would.
 */
export function withOfflineRegistry<T>(target: Target, fn: (ops: Operations, config: Config) => Promise<T>): Promise<T> {
  return withStoppedRegistry(target, async (registry, logger) => {
    await registry.uploads.recover();
    return fn(Operations.of(registry, logger), registry.config);
  });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
