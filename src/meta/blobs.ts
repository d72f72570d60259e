import type { Database, Statement } from "better-sqlite3";

/** Committed blobs (global, by digest) and the links that let a repository serve them. */
export class BlobTable {
  private readonly globalSize: Statement<[string], { size: number }>;
  private readonly linkedSize: Statement<[number, string], { size: number; grace_since: number }>;
  private readonly insertBlob: Statement<[string, number, number]>;
  private readonly insertLink: Statement<[number, string, number]>;
  private readonly deleteLink: Statement<[number, string]>;
  private readonly holders: Statement<[string], { name: string }>;

  constructor(db: Database) {
    this.globalSize = db.prepare("SELECT size FROM blobs WHERE digest = ?");
    this.linkedSize = db.prepare(
      `SELECT b.size, COALESCE(b.idle_since, b.created_at) AS grace_since FROM repository_blobs l JOIN blobs b ON b.digest = l.digest
       WHERE l.repository_id = ? AND l.digest = ?`,
    );
    this.insertBlob = db.prepare("INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?, ?, ?)");
    this.insertLink = db.prepare("INSERT OR IGNORE INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)");
    this.deleteLink = db.prepare("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?");
    this.holders = db.prepare(
      `SELECT r.name FROM repository_blobs l JOIN repositories r ON r.id = l.repository_id
       WHERE l.digest = ? ORDER BY r.name`,
    );
  }

  /** Size of a committed blob anywhere in the registry. */
  sizeOf(digest: string): number | undefined {
    return this.globalSize.get(digest)?.size;
  }

  /** Size of a blob as seen by one repository (undefined unless linked). */
  linkedSizeOf(repositoryId: number, digest: string): number | undefined {
    return this.linkedStat(repositoryId, digest)?.size;
  }

  /** Size and GC grace clock of a blob as seen by one repository (undefined unless linked). */
  linkedStat(repositoryId: number, digest: string): { size: number; graceSince: number } | undefined {
    const row = this.linkedSize.get(repositoryId, digest);
    return row && { size: row.size, graceSince: row.grace_since };
  }

  /** Record a committed blob (idempotent: concurrent pushes of one blob store one row). */
  record(digest: string, size: number): void {
    this.insertBlob.run(digest, size, Date.now());
  }

  link(repositoryId: number, digest: string): void {
    this.insertLink.run(repositoryId, digest, Date.now());
  }

  unlink(repositoryId: number, digest: string): boolean {
    return this.deleteLink.run(repositoryId, digest).changes > 0;
  }

  /** Repositories that can serve this blob (for mounts without `from`). */
  repositoriesHolding(digest: string): string[] {
    return this.holders.all(digest).map((r) => r.name);
  }
}
