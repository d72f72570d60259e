import type { Database, Statement } from "better-sqlite3";
import type { ManifestRecord, ManifestSummary, NewManifest, Page } from "./records.js";

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
  private readonly byDigest: Statement<[number, string], ManifestRow>;
  private readonly byTag: Statement<[number, string], ManifestRow>;
  private readonly insert: Statement<[number, string, string, number, Buffer, string | null, string | null, string | null, number]>;
  private readonly insertReference: Statement<[number, string, string]>;
  private readonly upsertTag: Statement<[number, string, number, number]>;
  private readonly deleteById: Statement<[number, string]>;
  private readonly deleteTagStmt: Statement<[number, string]>;
  private readonly tagsAfter: Statement<[number, string, number], { name: string }>;
  private readonly referrersOf: Statement<[number, string], Omit<ManifestRow, "content">>;
  private readonly tagsOfManifest: Statement<[number], { name: string }>;

  constructor(db: Database) {
    this.byDigest = db.prepare("SELECT m.* FROM manifests m WHERE m.repository_id = ? AND m.digest = ?");
    this.byTag = db.prepare(
      "SELECT m.* FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = ? AND t.name = ?",
    );
    this.insert = db.prepare(
      `INSERT INTO manifests (repository_id, digest, media_type, size, content, artifact_type, subject, annotations, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertReference = db.prepare("INSERT OR IGNORE INTO manifest_references (manifest_id, digest, kind) VALUES (?, ?, ?)");
    this.upsertTag = db.prepare(
      `INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at`,
    );
    this.deleteById = db.prepare("DELETE FROM manifests WHERE repository_id = ? AND digest = ?");
    this.deleteTagStmt = db.prepare("DELETE FROM tags WHERE repository_id = ? AND name = ?");
    this.tagsAfter = db.prepare("SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?");
    this.referrersOf = db.prepare(
      `SELECT ${SUMMARY_COLUMNS} FROM manifests m WHERE m.repository_id = ? AND m.subject = ? ORDER BY m.created_at, m.digest`,
    );
    this.tagsOfManifest = db.prepare("SELECT name FROM tags WHERE manifest_id = ? ORDER BY name");
  }

  get(repositoryId: number, repository: string, digest: string): ManifestRecord | undefined {
    const row = this.byDigest.get(repositoryId, digest);
    return row && toRecord(repository, row);
  }

  getByTag(repositoryId: number, repository: string, tag: string): ManifestRecord | undefined {
    const row = this.byTag.get(repositoryId, tag);
    return row && toRecord(repository, row);
  }

  /** Store a manifest (idempotent on digest) and point `tags` at it. Call inside a transaction. */
  put(repositoryId: number, manifest: NewManifest, tags: string[]): number {
    let id = this.byDigest.get(repositoryId, manifest.digest)?.id;
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
        Date.now(),
      );
      id = Number(info.lastInsertRowid);
      for (const digest of manifest.blobs) this.insertReference.run(id, digest, "blob");
      for (const digest of manifest.manifests) this.insertReference.run(id, digest, "manifest");
    }
    const now = Date.now();
    for (const tag of tags) this.upsertTag.run(repositoryId, tag, id, now);
    return id;
  }

  /** Delete a manifest and every tag that points at it. */
  delete(repositoryId: number, digest: string): boolean {
    return this.deleteById.run(repositoryId, digest).changes > 0;
  }

  deleteTag(repositoryId: number, tag: string): boolean {
    return this.deleteTagStmt.run(repositoryId, tag).changes > 0;
  }

  listTags(repositoryId: number, page: Page): string[] {
    return this.tagsAfter.all(repositoryId, page.last ?? "", page.limit ?? -1).map((r) => r.name);
  }

  tagsOf(manifestId: number): string[] {
    return this.tagsOfManifest.all(manifestId).map((r) => r.name);
  }

  referrers(repositoryId: number, subject: string): ManifestSummary[] {
    return this.referrersOf.all(repositoryId, subject).map(toSummary);
  }
}
