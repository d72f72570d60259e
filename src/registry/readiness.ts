import type { Metadata } from "../meta/index.js";
import type { BlobStorage } from "../storage/index.js";

/** What readiness asks: the metadata answers, the storage has room and takes writes. */
export interface ReadinessPort {
  meta: Pick<Metadata, "usage">;
  storage: Pick<BlobStorage, "capacity" | "checkWritable">;
}

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
export async function checkReadiness(registry: ReadinessPort): Promise<Readiness> {
  const database = await checkDatabase(registry);
  const stats = await registry.storage.capacity.stats().catch((err: Error) => err);
  const full = !(stats instanceof Error) && stats.freeBytes <= stats.reserveBytes;
  const writable = await registry.storage.checkWritable();
  const root = writable.ok ? "ok" : writable.message;
  const storage = stats instanceof Error ? `statfs failed: ${stats.message}` : full ? "full: read-only mode" : "ok";
  // A write probe may fail for want of space on a full volume: that is the read-only mode, not a fault.
  const rootOk = writable.ok || (full && writable.full);
  return {
    ready: database === "ok" && rootOk && !(stats instanceof Error),
    mode: full ? "read-only" : "read-write",
    checks: { database, root, storage },
  };
}

async function checkDatabase(registry: ReadinessPort): Promise<string> {
  try {
    await registry.meta.usage();
    return "ok";
  } catch (err) {
    return `unavailable: ${(err as Error).message}`;
  }
}
