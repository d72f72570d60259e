import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Registry } from "./registry.js";

export interface Readiness {
  ready: boolean;
  /** "read-write", or "read-only" while free space is at or below the reserve (pulls go on, uploads get 507). */
  mode: "read-write" | "read-only";
  checks: {
    database: string;
    root: string;
    storage: string;
  };
}

/**
 * /readyz: ready when the metadata database answers, the data root accepts writes, and free
 * space is above the reserve — or, when it is not, the registry is serving in read-only mode
 * (pulls, tag lists and deletes keep working; a full volume must not take image pulls away
 * from the cluster).
 */
export async function checkReadiness(registry: Registry): Promise<Readiness> {
  const database = await checkDatabase(registry);
  const stats = await registry.capacity.stats().catch((err: Error) => err);
  const full = !(stats instanceof Error) && stats.freeBytes <= stats.reserveBytes;
  const root = await checkWritable(registry.layout.root);
  const storage = stats instanceof Error ? `statfs failed: ${stats.message}` : full ? "full: read-only mode" : "ok";
  // A write probe may fail with ENOSPC on a full volume: that is the read-only mode, not a fault.
  const rootOk = root === "ok" || (full && root.startsWith("ENOSPC"));
  return {
    ready: database === "ok" && rootOk && !(stats instanceof Error),
    mode: full ? "read-only" : "read-write",
    checks: { database, root, storage },
  };
}

async function checkDatabase(registry: Registry): Promise<string> {
  try {
    await registry.meta.usage();
    return "ok";
  } catch (err) {
    return `unavailable: ${(err as Error).message}`;
  }
}

/** Create and remove a small file: catches read-only remounts and permission changes. */
async function checkWritable(root: string): Promise<string> {
  const probe = path.join(root, `.readyz-${randomUUID()}`);
  try {
    await fs.writeFile(probe, "");
    await fs.rm(probe, { force: true });
    return "ok";
  } catch (err) {
    return `${(err as NodeJS.ErrnoException).code ?? "error"}: ${(err as Error).message}`;
  }
}
