/**
 * Objects of the Kubernetes-style API (ClusterVirtualImages), as the metadata keeps them: JSON
 * documents keyed by resource and name, each write stamped with a resourceVersion from one
 * monotonic counter and recorded in a change log that watches resume from. Part of the Metadata
 * interface (metadata.ts), so a networked backend keeps them beside the registry's rows.
 */
export interface ObjectMeta {
  name: string;
  uid: string;
  resourceVersion: string;
  generation: number;
  creationTimestamp: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  [other: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
  [other: string]: unknown;
}

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

export interface ObjectChange {
  resource: string;
  type: ChangeType;
  /** The object as written (for DELETED: as it was last, with the deletion's resourceVersion). */
  object: KubeObject;
  resourceVersion: number;
}

export type StoreConflictKind = "exists" | "missing" | "stale";

/** A write whose precondition failed: created twice, changed or removed what is not there, or a stale resourceVersion. */
export class StoreConflict extends Error {
  constructor(
    readonly kind: StoreConflictKind,
    readonly resource: string,
    readonly objectName: string,
  ) {
    super(`${resource} ${objectName}: ${kind}`);
  }
}

/** The change log no longer reaches back to the asked resourceVersion (watchers must relist). */
export class ResourceVersionTooOld extends Error {
  constructor(
    readonly asked: number,
    readonly oldest: number,
  ) {
    super(`too old resource version: ${asked} (${oldest})`);
  }
}

export interface ObjectList {
  items: KubeObject[];
  /** The counter at the time of the list: a watch from here misses nothing. */
  resourceVersion: number;
}

/**
 * The objects' operations. Each is atomic in the backend. `subscribe` tells of committed changes
 * in commit order: within one process (SQLite); a networked backend would carry it on its own
 * notification channel (PostgreSQL LISTEN/NOTIFY). See registry/single-process.ts.
 */
export interface ObjectMetadata {
  get(resource: string, name: string): Promise<KubeObject | undefined>;
  list(resource: string): Promise<ObjectList>;
  /**
   * Create (`expected` null: must not exist) or replace (`expected`: the resourceVersion the
   * caller read). Returns the object with its new resourceVersion.
   */
  put(resource: string, object: KubeObject, expected: string | null): Promise<KubeObject>;
  /** Remove for good (the object must still have `expected` as its resourceVersion). */
  remove(resource: string, name: string, expected: string): Promise<KubeObject>;
  /** Changes of `resource` after `resourceVersion`, oldest first; ResourceVersionTooOld when compacted away. */
  changesSince(resource: string, resourceVersion: number): Promise<ObjectChange[]>;
  /** Be told of every committed change (after commit, in commit order). Returns the unsubscribe. */
  subscribe(listener: (change: ObjectChange) => void): () => void;
}
