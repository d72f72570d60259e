import type { Database, Statement } from "better-sqlite3";
import type { Clock } from "../../config/clock.js";
import type { BlobRow } from "../records.js";
import type { RepositoryTable } from "./repositories.js";

/** Committed blobs (global, by digest) and the links that let a repository serve them. */
export class BlobTable {
  private readonly globalSize: Statement<[string], { size: number }>;
  private readonly linkedByName: Statement<[string, string], { size: number; grace_since: number }>;
  private readonly linkedById: Statement<[number, string], { size: number }>;
  private readonly insertBlob: Statement<[string, number, number]>;
  private readonly insertLink: Statement<[number, string, number]>;
  private readonly deleteLink: Statement<[string, string]>;
  private readonly deleteLinks: Statement<[string]>;
  private readonly deleteBlob: Statement<[string]>;
  private readonly touchStmt: Statement<[number, string]>;
  private readonly holdersStmt: Statement<[string], { name: string }>;
  private readonly blobsPage: Statement<{ after: string; limit: number }, BlobRow>;
  private readonly repositoryBlobsPage: Statement<{ repository: string; after: string; limit: number }, BlobRow>;

  constructor(
    db: Database,
    private readonly repositories: RepositoryTable,
    private readonly clock: Clock,
  ) {
    this.globalSize = db.prepare("SELECT size FROM blobs WHERE digest = ?");
    this.linkedByName = db.prepare(
      `SELECT b.size, COALESCE(b.idle_since, b.created_at) AS grace_since
         FROM repositories r JOIN repository_blobs l ON l.repository_id = r.id JOIN blobs b ON b.digest = l.digest
        WHERE r.name = ? AND l.digest = ?`,
    );
    this.linkedById = db.prepare(
      "SELECT b.size FROM repository_blobs l JOIN blobs b ON b.digest = l.digest WHERE l.repository_id = ? AND l.digest = ?",
    );
    this.insertBlob = db.prepare("INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?, ?, ?)");
    this.insertLink = db.prepare("INSERT OR IGNORE INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)");
    this.deleteLink = db.prepare(
      "DELETE FROM repository_blobs WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ?",
    );
    this.deleteLinks = db.prepare("DELETE FROM repository_blobs WHERE digest = ?");
    this.deleteBlob = db.prepare("DELETE FROM blobs WHERE digest = ?");
    this.touchStmt = db.prepare("UPDATE blobs SET idle_since = ? WHERE digest = ?");
    this.holdersStmt = db.prepare(
      `SELECT r.name FROM repository_blobs l JOIN repositories r ON r.id = l.repository_id
       WHERE l.digest = ? ORDER BY r.name`,
    );
    this.blobsPage = db.prepare("SELECT digest, size FROM blobs WHERE digest > @after ORDER BY digest LIMIT @limit");
    this.repositoryBlobsPage = db.prepare(
      `SELECT b.digest, b.size FROM repository_blobs l JOIN repositories r ON r.id = l.repository_id JOIN blobs b ON b.digest = l.digest
        WHERE r.name = @repository AND b.digest > @after ORDER BY b.digest LIMIT @limit`,
    );
  }

  sizeOf(digest: string): number | undefined {
    return this.globalSize.get(digest)?.size;
  }

  linked(repository: string, digest: string): { size: number; graceSince: number } | undefined {
    const row = this.linkedByName.get(repository, digest);
    return row && { size: row.size, graceSince: row.grace_since };
  }

  /** Size of a blob as the repository `repositoryId` sees it (undefined unless linked). */
  linkedSizeOf(repositoryId: number, digest: string): number | undefined {
    return this.linkedById.get(repositoryId, digest)?.size;
  }

  holders(digest: string): string[] {
    return this.holdersStmt.all(digest).map((r) => r.name);
  }

  /** Call inside a transaction. */
  mount(repository: string, digest: string, sources: readonly string[]): number | undefined {
    const source = sources.find((name) => {
      const id = this.repositories.idOf(name);
      return id !== undefined && this.linkedSizeOf(id, digest) !== undefined;
    });
    if (source === undefined) return undefined;
    this.link(this.repositories.ensure(repository), digest);
    this.touch(digest);
    return this.sizeOf(digest);
  }

  /** Record a committed blob (idempotent: concurrent pushes of one blob store one row). Call inside a transaction. */
  record(repository: string, digest: string, size: number): void {
    this.insertBlob.run(digest, size, this.clock.now());
    this.touch(digest);
    this.link(this.repositories.ensure(repository), digest);
  }

  unlink(repository: string, digest: string): boolean {
    return this.deleteLink.run(repository, digest).changes > 0;
  }

  touch(digest: string): void {
    this.touchStmt.run(this.clock.now(), digest);
  }

  /** Row and links together. Call inside a transaction. */
  forget(digest: string): boolean {
    this.deleteLinks.run(digest);
    return this.deleteBlob.run(digest).changes > 0;
  }

  page(after: string, limit: number, repository?: string): BlobRow[] {
    return repository === undefined ? this.blobsPage.all({ after, limit }) : this.repositoryBlobsPage.all({ repository, after, limit });
  }

  private link(repositoryId: number, digest: string): void {
    this.insertLink.run(repositoryId, digest, this.clock.now());
  }
}
