import type { Database, Statement } from "better-sqlite3";

/** Blobs whose grace clocks a deletion is about to restart, with what they were before. */
export interface ClockRow {
  digest: string;
  prior: number;
  since: number;
}

/**
 * The delete triggers restart the grace clock of every blob a deleted manifest referenced
 * (now). GC's own deletions instead keep the time the manifest (or repository) died, so one run
 * reclaims the manifest and the blobs only it held: read the clocks first, delete, then set
 * them to max(before, since).
 */
export class GraceClocks {
  private readonly manifestBlobs: Statement<{ ids: string }, ClockRow>;
  private readonly repositoryBlobs: Statement<{ id: number; since: number }, ClockRow>;
  private readonly restore: Statement<{ digest: string; clock: number }>;

  constructor(db: Database) {
    this.manifestBlobs = db.prepare(
      `SELECT r.digest, COALESCE(b.idle_since, b.created_at) AS prior, MAX(COALESCE(m.idle_since, m.created_at)) AS since
         FROM manifest_references r JOIN manifests m ON m.id = r.manifest_id JOIN blobs b ON b.digest = r.digest
        WHERE r.kind = 'blob' AND r.manifest_id IN (SELECT value FROM json_each(@ids))
        GROUP BY r.digest`,
    );
    this.repositoryBlobs = db.prepare(
      `SELECT r.digest, COALESCE(b.idle_since, b.created_at) AS prior, @since AS since
         FROM manifest_references r JOIN manifests m ON m.id = r.manifest_id JOIN blobs b ON b.digest = r.digest
        WHERE r.kind = 'blob' AND m.repository_id = @id
        GROUP BY r.digest`,
    );
    this.restore = db.prepare("UPDATE blobs SET idle_since = @clock WHERE digest = @digest");
  }

  /** Clocks of the blobs the manifests (a JSON array of ids) reference, since each manifest went idle. */
  ofManifests(ids: string): ClockRow[] {
    return this.manifestBlobs.all({ ids });
  }

  /** Clocks of the blobs a repository's manifests reference, since `since`. */
  ofRepository(id: number, since: number): ClockRow[] {
    return this.repositoryBlobs.all({ id, since });
  }

  /** Run a delete, then set the touched blobs' clocks to max(before, since). */
  preserving(clocks: ClockRow[], remove: () => void): void {
    remove();
    for (const c of clocks) this.restore.run({ digest: c.digest, clock: Math.max(c.prior, c.since) });
  }
}
