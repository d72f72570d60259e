import type { Database, Statement } from "better-sqlite3";
import { ResourceVersionTooOld, StoreConflict, type KubeObject, type ObjectChange, type ObjectList } from "../objects.js";

interface ChangeRow {
  resource_version: number;
  type: ObjectChange["type"];
  object: string;
}

/**
 * The Kubernetes-style objects and their change log (the kube_* tables of migrations.ts). Each write runs
 * inside the caller's IMMEDIATE transaction (sqlite-metadata.ts); listeners are told after the
 * commit, in commit order.
 */
export class KubeObjectTable {
  private readonly listeners = new Set<(change: ObjectChange) => void>();
  private readonly stateStmt: Statement<[string], { value: number }>;
  private readonly getStmt: Statement<[string, string], { object: string }>;
  private readonly listStmt: Statement<[string], { object: string }>;
  private readonly versionStmt: Statement<[string, string], { resource_version: number; object: string }>;
  private readonly upsert: Statement<[string, string, number, string]>;
  private readonly deleteStmt: Statement<[string, string]>;
  private readonly bumpStmt: Statement<[]>;
  private readonly logStmt: Statement<[number, string, string, string]>;
  private readonly compactStmt: Statement<[number]>;
  private readonly compactedStmt: Statement<[number]>;
  private readonly changesStmt: Statement<[string, number], ChangeRow>;

  constructor(
    db: Database,
    /** Changes kept for watches to resume from (older resourceVersions get 410). */
    private readonly retain: number,
  ) {
    this.stateStmt = db.prepare("SELECT value FROM kube_state WHERE key = ?");
    this.getStmt = db.prepare("SELECT object FROM kube_objects WHERE resource = ? AND name = ?");
    this.listStmt = db.prepare("SELECT object FROM kube_objects WHERE resource = ? ORDER BY name");
    this.versionStmt = db.prepare("SELECT resource_version, object FROM kube_objects WHERE resource = ? AND name = ?");
    this.upsert = db.prepare("INSERT OR REPLACE INTO kube_objects VALUES (?, ?, ?, ?)");
    this.deleteStmt = db.prepare("DELETE FROM kube_objects WHERE resource = ? AND name = ?");
    this.bumpStmt = db.prepare("UPDATE kube_state SET value = value + 1 WHERE key = 'counter'");
    this.logStmt = db.prepare("INSERT INTO kube_changes VALUES (?, ?, ?, ?)");
    this.compactStmt = db.prepare("DELETE FROM kube_changes WHERE resource_version <= ?");
    this.compactedStmt = db.prepare("UPDATE kube_state SET value = ? WHERE key = 'compacted'");
    this.changesStmt = db.prepare("SELECT resource_version, type, object FROM kube_changes WHERE resource = ? AND resource_version > ? ORDER BY resource_version");
  }

  private state(key: "counter" | "compacted"): number {
    return this.stateStmt.get(key)!.value;
  }

  get(resource: string, name: string): KubeObject | undefined {
    const row = this.getStmt.get(resource, name);
    return row && (JSON.parse(row.object) as KubeObject);
  }

  /** Run inside a (deferred) transaction: the items and the counter are one snapshot. */
  list(resource: string): ObjectList {
    return { items: this.listStmt.all(resource).map((r) => JSON.parse(r.object) as KubeObject), resourceVersion: this.state("counter") };
  }

  put(resource: string, object: KubeObject, expected: string | null): ObjectChange {
    const name = object.metadata.name;
    const current = this.versionStmt.get(resource, name);
    if (expected === null && current) throw new StoreConflict("exists", resource, name);
    if (expected !== null && !current) throw new StoreConflict("missing", resource, name);
    if (expected !== null && String(current!.resource_version) !== expected) throw new StoreConflict("stale", resource, name);
    const rv = this.bump();
    const stored: KubeObject = { ...object, metadata: { ...object.metadata, resourceVersion: String(rv) } };
    const json = JSON.stringify(stored);
    this.upsert.run(resource, name, rv, json);
    const type = expected === null ? "ADDED" : "MODIFIED";
    this.record(rv, resource, type, json);
    return { resource, type, object: stored, resourceVersion: rv };
  }

  remove(resource: string, name: string, expected: string): ObjectChange {
    const row = this.versionStmt.get(resource, name);
    if (!row) throw new StoreConflict("missing", resource, name);
    if (String(row.resource_version) !== expected) throw new StoreConflict("stale", resource, name);
    const rv = this.bump();
    const last = JSON.parse(row.object) as KubeObject;
    const gone: KubeObject = { ...last, metadata: { ...last.metadata, resourceVersion: String(rv) } };
    this.deleteStmt.run(resource, name);
    this.record(rv, resource, "DELETED", JSON.stringify(gone));
    return { resource, type: "DELETED", object: gone, resourceVersion: rv };
  }

  /** Run inside a (deferred) transaction: the compaction mark and the rows are one snapshot. */
  changesSince(resource: string, resourceVersion: number): ObjectChange[] {
    const compacted = this.state("compacted");
    if (resourceVersion < compacted) throw new ResourceVersionTooOld(resourceVersion, compacted + 1);
    return this.changesStmt
      .all(resource, resourceVersion)
      .map((r) => ({ resource, type: r.type, object: JSON.parse(r.object) as KubeObject, resourceVersion: r.resource_version }));
  }

  subscribe(listener: (change: ObjectChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** After the commit of `change`'s transaction. */
  publish(change: ObjectChange): void {
    for (const listener of this.listeners) listener(change);
  }

  clearListeners(): void {
    this.listeners.clear();
  }

  private bump(): number {
    this.bumpStmt.run();
    return this.state("counter");
  }

  /** Log the change and compact beyond the retention bound, in the writer's transaction. */
  private record(rv: number, resource: string, type: string, json: string): void {
    this.logStmt.run(rv, resource, type, json);
    const horizon = rv - this.retain;
    if (horizon > this.state("compacted")) {
      this.compactStmt.run(horizon);
      this.compactedStmt.run(horizon);
    }
  }
}
