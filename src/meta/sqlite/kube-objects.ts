import type { Database } from "better-sqlite3";
import {
  ResourceVersionTooOld,
  StoreConflict,
  type KubeObject,
  type KubeObjectStore,
  type ObjectChange,
  type ObjectList,
} from "../../kube/object-store.js";
import { openDatabase } from "../database.js";

/**
 * The tables of the Kubernetes-style objects, migrated on their own (kube_schema) so they can
 * share the registry's meta.db without touching its user_version. Append only.
 */
const KUBE_MIGRATIONS: string[] = [
  `
  CREATE TABLE kube_objects (
    resource          TEXT NOT NULL,
    name              TEXT NOT NULL,
    resource_version  INTEGER NOT NULL,
    object            TEXT NOT NULL,
    PRIMARY KEY (resource, name)
  ) WITHOUT ROWID;
  -- Every write, for watches to resume from; the oldest rows are compacted away.
  CREATE TABLE kube_changes (
    resource_version  INTEGER PRIMARY KEY,
    resource          TEXT NOT NULL,
    type              TEXT NOT NULL CHECK (type IN ('ADDED', 'MODIFIED', 'DELETED')),
    object            TEXT NOT NULL
  );
  -- counter: the last resourceVersion given out; compacted: changes up to here are gone.
  CREATE TABLE kube_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO kube_state VALUES ('counter', 0), ('compacted', 0);
  `,
];

function migrate(db: Database): void {
  db.exec("CREATE TABLE IF NOT EXISTS kube_schema (version INTEGER NOT NULL)");
  const row = db.prepare("SELECT version FROM kube_schema").get() as { version: number } | undefined;
  const current = row?.version ?? 0;
  if (current > KUBE_MIGRATIONS.length) throw new Error(`kube object schema ${current} is newer than this dvcr (${KUBE_MIGRATIONS.length}); refusing to run`);
  for (let v = current; v < KUBE_MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(KUBE_MIGRATIONS[v]!);
      db.prepare("DELETE FROM kube_schema").run();
      db.prepare("INSERT INTO kube_schema VALUES (?)").run(v + 1);
    }).immediate();
  }
}

export interface SqliteKubeObjectsOptions {
  /** Changes kept for watches to resume from (older resourceVersions get 410). */
  retainChanges?: number;
}

/** KubeObjectStore on better-sqlite3: every write one IMMEDIATE transaction, listeners told after commit. */
export class SqliteKubeObjects implements KubeObjectStore {
  private readonly listeners = new Set<(change: ObjectChange) => void>();
  private readonly retain: number;

  private constructor(
    private readonly db: Database,
    options: SqliteKubeObjectsOptions,
  ) {
    this.retain = options.retainChanges ?? 10_000;
    migrate(db);
  }

  /** Open on a database file (the registry's meta.db: a second connection, WAL lets both in). */
  static open(file: string, options: SqliteKubeObjectsOptions = {}): SqliteKubeObjects {
    return new SqliteKubeObjects(openDatabase(file), options);
  }

  private state(key: "counter" | "compacted"): number {
    return (this.db.prepare("SELECT value FROM kube_state WHERE key = ?").get(key) as { value: number }).value;
  }

  async get(resource: string, name: string): Promise<KubeObject | undefined> {
    const row = this.db.prepare("SELECT object FROM kube_objects WHERE resource = ? AND name = ?").get(resource, name) as { object: string } | undefined;
    return row && (JSON.parse(row.object) as KubeObject);
  }

  async list(resource: string): Promise<ObjectList> {
    return this.db.transaction(() => {
      const rows = this.db.prepare("SELECT object FROM kube_objects WHERE resource = ? ORDER BY name").all(resource) as { object: string }[];
      return { items: rows.map((r) => JSON.parse(r.object) as KubeObject), resourceVersion: this.state("counter") };
    })();
  }

  async put(resource: string, object: KubeObject, expected: string | null): Promise<KubeObject> {
    const name = object.metadata.name;
    const change = this.db.transaction((): ObjectChange => {
      const current = this.db.prepare("SELECT resource_version FROM kube_objects WHERE resource = ? AND name = ?").get(resource, name) as
        | { resource_version: number }
        | undefined;
      if (expected === null && current) throw new StoreConflict("exists", resource, name);
      if (expected !== null && !current) throw new StoreConflict("missing", resource, name);
      if (expected !== null && String(current!.resource_version) !== expected) throw new StoreConflict("stale", resource, name);
      const rv = this.bump();
      const stored: KubeObject = { ...object, metadata: { ...object.metadata, resourceVersion: String(rv) } };
      const json = JSON.stringify(stored);
      this.db.prepare("INSERT OR REPLACE INTO kube_objects VALUES (?, ?, ?, ?)").run(resource, name, rv, json);
      const type = expected === null ? "ADDED" : "MODIFIED";
      this.record(rv, resource, type, json);
      return { resource, type, object: stored, resourceVersion: rv };
    }).immediate();
    this.publish(change);
    return change.object;
  }

  async remove(resource: string, name: string, expected: string): Promise<KubeObject> {
    const change = this.db.transaction((): ObjectChange => {
      const row = this.db.prepare("SELECT resource_version, object FROM kube_objects WHERE resource = ? AND name = ?").get(resource, name) as
        | { resource_version: number; object: string }
        | undefined;
      if (!row) throw new StoreConflict("missing", resource, name);
      if (String(row.resource_version) !== expected) throw new StoreConflict("stale", resource, name);
      const rv = this.bump();
      const last = JSON.parse(row.object) as KubeObject;
      const gone: KubeObject = { ...last, metadata: { ...last.metadata, resourceVersion: String(rv) } };
      this.db.prepare("DELETE FROM kube_objects WHERE resource = ? AND name = ?").run(resource, name);
      this.record(rv, resource, "DELETED", JSON.stringify(gone));
      return { resource, type: "DELETED", object: gone, resourceVersion: rv };
    }).immediate();
    this.publish(change);
    return change.object;
  }

  async changesSince(resource: string, resourceVersion: number): Promise<ObjectChange[]> {
    return this.db.transaction(() => {
      const compacted = this.state("compacted");
      if (resourceVersion < compacted) throw new ResourceVersionTooOld(resourceVersion, compacted + 1);
      const rows = this.db
        .prepare("SELECT resource_version, type, object FROM kube_changes WHERE resource = ? AND resource_version > ? ORDER BY resource_version")
        .all(resource, resourceVersion) as { resource_version: number; type: ObjectChange["type"]; object: string }[];
      return rows.map((r) => ({ resource, type: r.type, object: JSON.parse(r.object) as KubeObject, resourceVersion: r.resource_version }));
    })();
  }

  subscribe(listener: (change: ObjectChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
    if (this.db.open) this.db.close();
  }

  private bump(): number {
    this.db.prepare("UPDATE kube_state SET value = value + 1 WHERE key = 'counter'").run();
    return this.state("counter");
  }

  /** Log the change and compact beyond the retention bound, in the writer's transaction. */
  private record(rv: number, resource: string, type: string, json: string): void {
    this.db.prepare("INSERT INTO kube_changes VALUES (?, ?, ?, ?)").run(rv, resource, type, json);
    const horizon = rv - this.retain;
    if (horizon > this.state("compacted")) {
      this.db.prepare("DELETE FROM kube_changes WHERE resource_version <= ?").run(horizon);
      this.db.prepare("UPDATE kube_state SET value = ? WHERE key = 'compacted'").run(horizon);
    }
  }

  private publish(change: ObjectChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
