import type { Database, Statement } from "better-sqlite3";
import type { Clock } from "../../config/clock.js";
import type { ManifestRecord, ManifestSummary, NewManifest, Page } from "../records.js";

interface ManifestRow {
  id: number;
  digest: string;
  media_type: string;
  size: number;
  content: Buffer;
  artifact_type: string | null;
  subject: string | null;
  annotations: string | null;
  created_at: number;
  idle_since: number | null;
}

const SUMMARY_COLUMNS = "m.id, m.digest, m.media_type, m.size, m.artifact_type, m.subject, m.annotations, m.created_at, m.idle_since";

function toSummary(row: Omit<ManifestRow, "content">): ManifestSummary {
  return {
    id: row.id,
    digest: row.digest,
    mediaType: row.media_type,
    size: row.size,
    artifactType: row.artifact_type,
    subject: row.subject,
    annotations: row.annotations ? (JSON.parse(row.annotations) as Record<string, string>) : null,
    createdAt: row.created_at,
    graceSince: row.idle_since ?? row.created_at,
  };
}

function toRecord(repository: string, row: ManifestRow): ManifestRecord {
  return { ...toSummary(row), repository, content: row.content };
}

/** Manifests (stored whole: they are small and served hot), their references, and tags. */
export class ManifestTable {
  private readonly byDigest: Statement<[string, string], ManifestRow & { repository_id: number }>;
  private readonly byTag: Statement<[string, string], ManifestRow>;
  private readonly idByDigest: Statement<[number, string], { id: number; size: number }>;
  private readonly insert: Statement<[number, string, string, number, Buffer, string | null, string | null, string | null, number]>;
  private readonly insertReference: Statement<[number, string, string]>;
  private readonly upsertTag: Statement<[number, string, number, number]>;
  private readonly touchStmt: Statement<[number, number]>;
  private readonly deleteByDigest: Statement<[string, string]>;
  private readonly deleteTagStmt: Statement<[string, string]>;
  private readonly tagsAfter: Statement<[string, string, number], { name: string }>;
  private readonly referrersOf: Statement<[string, string], Omit<ManifestRow, "content">>;

  constructor(
    db: Database,
    private readonly clock: Clock,
  ) {
    // One query per lookup, by repository name: the manifest GET is the registry's hottest path.
    this.byDigest = db.prepare(
      "SELECT m.* FROM repositories r JOIN manifests m ON m.repository_id = r.id WHERE r.name = ? AND m.digest = ?",
    );
    this.byTag = db.prepare(
      `SELECT m.* FROM repositories r JOIN tags t ON t.repository_id = r.id JOIN manifests m ON m.id = t.manifest_id
        WHERE r.name = ? AND t.name = ?`,
    );
    this.idByDigest = db.prepare("SELECT id, size FROM manifests WHERE repository_id = ? AND digest = ?");
    this.insert = db.prepare(
      `INSERT INTO manifests (repository_id, digest, media_type, size, content, artifact_type, subject, annotations, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertReference = db.prepare("INSERT OR IGNORE INTO manifest_references (manifest_id, digest, kind) VALUES (?, ?, ?)");
    this.upsertTag = db.prepare(
      `INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at`,
    );
    this.touchStmt = db.prepare("UPDATE manifests SET idle_since = ? WHERE id = ?");
    this.deleteByDigest = db.prepare("DELETE FROM manifests WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ?");
    this.deleteTagStmt = db.prepare("DELETE FROM tags WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND name = ?");
    this.tagsAfter = db.prepare(
      `SELECT t.name FROM repositories r JOIN tags t ON t.repository_id = r.id
        WHERE r.name = ? AND t.name > ? ORDER BY t.name LIMIT ?`,
    );
    this.referrersOf = db.prepare(
      `SELECT ${SUMMARY_COLUMNS} FROM repositories r JOIN manifests m ON m.repository_id = r.id
        WHERE r.name = ? AND m.subject = ? ORDER BY m.created_at, m.digest`,
    );
  }

  get(repository: string, digest: string): ManifestRecord | undefined {
    const row = this.byDigest.get(repository, digest);
    return row && toRecord(repository, row);
  }

  getByTag(repository: string, tag: string): ManifestRecord | undefined {
    const row = this.byTag.get(repository, tag);
    return row && toRecord(repository, row);
  }

  /** Size of a manifest of the repository `repositoryId` (undefined when absent). */
  sizeIn(repositoryId: number, digest: string): number | undefined {
    return this.idByDigest.get(repositoryId, digest)?.size;
  }

  /** Store a manifest (idempotent on digest), point `tags` at it and restart its clock. Call inside a transaction. */
  put(repositoryId: number, manifest: NewManifest, tags: readonly string[]): number {
    const now = this.clock.now();
    let id = this.idByDigest.get(repositoryId, manifest.digest)?.id;
    if (id === undefined) {
      const info = this.insert.run(
        repositoryId,
        manifest.digest,
        manifest.mediaType,
        manifest.content.length,
        manifest.content,
        manifest.artifactType ?? null,
        manifest.subject ?? null,
        manifest.annotations ? JSON.stringify(manifest.annotations) : null,
        now,
      );
      id = Number(info.lastInsertRowid);
      for (const digest of manifest.blobs) this.insertReference.run(id, digest, "blob");
      for (const digest of manifest.manifests) this.insertReference.run(id, digest, "manifest");
    }
    for (const tag of tags) this.upsertTag.run(repositoryId, tag, id, now);
    // Pushed again (e.g. an index's child before the index): its grace period restarts.
    this.touchStmt.run(now, id);
    return id;
  }

  touch(repository: string, digest: string): void {
    const row = this.byDigest.get(repository, digest);
    if (row) this.touchStmt.run(this.clock.now(), row.id);
  }

  delete(repository: string, digest: string): boolean {
    return this.deleteByDigest.run(repository, digest).changes > 0;
  }

  deleteTag(repository: string, tag: string): boolean {
    return this.deleteTagStmt.run(repository, tag).changes > 0;
  }

  listTags(repository: string, page: Page): string[] {
    return this.tagsAfter.all(repository, page.last ?? "", page.limit ?? -1).map((r) => r.name);
  }

  referrers(repository: string, subject: string): ManifestSummary[] {
    return this.referrersOf.all(repository, subject).map(toSummary);
  }
}
