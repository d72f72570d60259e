import type { Database, Statement } from "better-sqlite3";

/**
 * Live manifests (mark phase), as a recursive CTE over the whole registry. Roots: manifests
 * with a tag, and untagged ones still inside their grace period (a push that sends children
 * before the index, or a manifest before its tag). From a live manifest, its index children and
 * the referrers whose subject it is are live too (same repository). UNION ends cycles.
 */
const LIVE_MANIFESTS = `
  live(id) AS (
    SELECT m.id FROM manifests m
     WHERE EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
        OR COALESCE(m.idle_since, m.created_at) > @cutoff
    UNION
    SELECT c.id FROM live
      JOIN manifests p ON p.id = live.id
      JOIN manifest_references r ON r.manifest_id = p.id AND r.kind = 'manifest'
      JOIN manifests c ON c.repository_id = p.repository_id AND c.digest = r.digest
    UNION
    SELECT s.id FROM live
      JOIN manifests p ON p.id = live.id
      JOIN manifests s ON s.repository_id = p.repository_id AND s.subject = p.digest
  )`;

/** A blob may go when no live manifest references it and its grace period is over. */
const COLLECTABLE_BLOB = `
  COALESCE(b.idle_since, b.created_at) <= @cutoff
  AND NOT EXISTS (
    SELECT 1 FROM manifest_references r JOIN live ON live.id = r.manifest_id
     WHERE r.digest = b.digest AND r.kind = 'blob')`;

export interface DeadManifest {
  id: number;
  repository: string;
  digest: string;
  size: number;
}

export interface BlobRow {
  digest: string;
  size: number;
}

export interface RepositoryActivity {
  id: number;
  name: string;
  /** Latest of: created, a manifest pushed or untagged, a blob linked, an upload written. */
  lastActivity: number;
}

/** Blobs whose grace clocks a deletion is about to restart, with what they were before. */
interface ClockRow {
  digest: string;
  prior: number;
  since: number;
}

/**
 * The queries of garbage collection, repository deletion and scrub. Each mutating function is
 * one synchronous transaction that re-checks its condition, so it is safe against pushes that
 * commit between GC's mark and sweep.
 */
export class GcTable {
  private readonly deadManifestsStmt: Statement<{ cutoff: number; limit: number }, DeadManifest>;
  private readonly deadBlobRefs: Statement<{ ids: string }, ClockRow>;
  private readonly deleteManifestsStmt: Statement<{ ids: string }>;
  private readonly restoreClock: Statement<{ digest: string; clock: number }>;
  private readonly collectableBlobs: Statement<{ cutoff: number; after: string; limit: number }, BlobRow>;
  private readonly collectableBlob: Statement<{ cutoff: number; digest: string }, { size: number }>;
  private readonly deleteLinks: Statement<[string]>;
  private readonly deleteBlob: Statement<[string]>;
  private readonly touchBlobStmt: Statement<[number, string]>;
  private readonly touchManifestStmt: Statement<[number, number, string]>;
  private readonly ownerRepositoriesStmt: Statement<[], RepositoryActivity>;
  private readonly activityOf: Statement<[string], RepositoryActivity>;
  private readonly reclaimableStmt: Statement<{ cutoff: number }, { bytes: number; blobs: number }>;
  private readonly repositoryByName: Statement<[string], { id: number; manifests: number; tags: number }>;
  private readonly repositoryBlobClocks: Statement<{ id: number; since: number }, ClockRow>;
  private readonly deleteRepositoryStmt: Statement<[number]>;
  private readonly idleUploadsStmt: Statement<[number], { id: string; repository: string; size: number }>;
  private readonly usageStmt: Statement<[], { blobsBytes: number; blobs: number; uploadsBytes: number; uploads: number }>;
  private readonly blobsPage: Statement<{ after: string; limit: number }, BlobRow>;
  private readonly repositoryBlobsPage: Statement<{ repository: string; after: string; limit: number }, BlobRow>;

  constructor(private readonly db: Database) {
    this.deadManifestsStmt = db.prepare(
      `WITH RECURSIVE ${LIVE_MANIFESTS}
       SELECT m.id, r.name AS repository, m.digest, m.size FROM manifests m JOIN repositories r ON r.id = m.repository_id
        WHERE m.id NOT IN (SELECT id FROM live) ORDER BY m.id LIMIT @limit`,
    );
    this.deadBlobRefs = db.prepare(
      `SELECT r.digest, COALESCE(b.idle_since, b.created_at) AS prior, MAX(COALESCE(m.idle_since, m.created_at)) AS since
         FROM manifest_references r JOIN manifests m ON m.id = r.manifest_id JOIN blobs b ON b.digest = r.digest
        WHERE r.kind = 'blob' AND r.manifest_id IN (SELECT value FROM json_each(@ids))
        GROUP BY r.digest`,
    );
    this.deleteManifestsStmt = db.prepare("DELETE FROM manifests WHERE id IN (SELECT value FROM json_each(@ids))");
    this.restoreClock = db.prepare("UPDATE blobs SET idle_since = @clock WHERE digest = @digest");
    this.collectableBlobs = db.prepare(
      `WITH RECURSIVE ${LIVE_MANIFESTS}
       SELECT b.digest, b.size FROM blobs b WHERE b.digest > @after AND ${COLLECTABLE_BLOB} ORDER BY b.digest LIMIT @limit`,
    );
    // The sweep's re-check: any reference at all keeps the blob (a manifest committed since
    // the mark is live by definition).
    this.collectableBlob = db.prepare(
      `SELECT b.size FROM blobs b WHERE b.digest = @digest AND COALESCE(b.idle_since, b.created_at) <= @cutoff
         AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.digest = b.digest AND r.kind = 'blob')`,
    );
    this.deleteLinks = db.prepare("DELETE FROM repository_blobs WHERE digest = ?");
    this.deleteBlob = db.prepare("DELETE FROM blobs WHERE digest = ?");
    this.touchBlobStmt = db.prepare("UPDATE blobs SET idle_since = ? WHERE digest = ?");
    this.touchManifestStmt = db.prepare("UPDATE manifests SET idle_since = ? WHERE repository_id = ? AND digest = ?");
    const activity = `SELECT r.id, r.name, MAX(
          r.created_at,
          COALESCE((SELECT MAX(MAX(m.created_at, COALESCE(m.idle_since, 0))) FROM manifests m WHERE m.repository_id = r.id), 0),
          COALESCE((SELECT MAX(l.created_at) FROM repository_blobs l WHERE l.repository_id = r.id), 0),
          COALESCE((SELECT MAX(u.updated_at) FROM uploads u WHERE u.repository = r.name), 0)
        ) AS lastActivity
         FROM repositories r`;
    // DVCR's owners: ClusterVirtualImage, VirtualImage and VirtualDisk repositories.
    this.ownerRepositoriesStmt = db.prepare(`${activity} WHERE r.name LIKE 'cvi/%' OR r.name LIKE 'vi/%' OR r.name LIKE 'vd/%' ORDER BY r.name`);
    this.activityOf = db.prepare(`${activity} WHERE r.name = ?`);
    this.reclaimableStmt = db.prepare(
      `WITH RECURSIVE ${LIVE_MANIFESTS}
       SELECT COALESCE(SUM(b.size), 0) AS bytes, COUNT(*) AS blobs FROM blobs b WHERE ${COLLECTABLE_BLOB}`,
    );
    this.repositoryByName = db.prepare(
      `SELECT r.id,
              (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id) AS manifests,
              (SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id) AS tags
         FROM repositories r WHERE r.name = ?`,
    );
    this.repositoryBlobClocks = db.prepare(
      `SELECT r.digest, COALESCE(b.idle_since, b.created_at) AS prior, @since AS since
         FROM manifest_references r JOIN manifests m ON m.id = r.manifest_id JOIN blobs b ON b.digest = r.digest
        WHERE r.kind = 'blob' AND m.repository_id = @id
        GROUP BY r.digest`,
    );
    this.deleteRepositoryStmt = db.prepare("DELETE FROM repositories WHERE id = ?");
    this.idleUploadsStmt = db.prepare("SELECT id, repository, size FROM uploads WHERE updated_at <= ? ORDER BY updated_at");
    this.usageStmt = db.prepare(
      `SELECT (SELECT COALESCE(SUM(size), 0) FROM blobs) AS blobsBytes, (SELECT COUNT(*) FROM blobs) AS blobs,
              (SELECT COALESCE(SUM(size), 0) FROM uploads) AS uploadsBytes, (SELECT COUNT(*) FROM uploads) AS uploads`,
    );
    this.blobsPage = db.prepare("SELECT digest, size FROM blobs WHERE digest > @after ORDER BY digest LIMIT @limit");
    this.repositoryBlobsPage = db.prepare(
      `SELECT b.digest, b.size FROM repository_blobs l JOIN repositories r ON r.id = l.repository_id JOIN blobs b ON b.digest = l.digest
        WHERE r.name = @repository AND b.digest > @after ORDER BY b.digest LIMIT @limit`,
    );
  }

  /** Manifests the mark phase does not reach (at most `limit`). */
  deadManifests(cutoff: number, limit: number): DeadManifest[] {
    return this.deadManifestsStmt.all({ cutoff, limit });
  }

  /**
   * Delete up to `limit` dead manifests, re-marking inside the transaction. Their blobs'
   * grace clocks keep the time the manifests died (not now, as the delete trigger would set),
   * so one GC run reclaims both a dead manifest and the blobs only it held.
   */
  deleteDeadManifests(cutoff: number, limit: number): DeadManifest[] {
    return this.transaction(() => {
      const dead = this.deadManifestsStmt.all({ cutoff, limit });
      if (dead.length === 0) return dead;
      const ids = JSON.stringify(dead.map((m) => m.id));
      this.preservingClocks(this.deadBlobRefs.all({ ids }), () => this.deleteManifestsStmt.run({ ids }));
      return dead;
    });
  }

  /** Blobs the sweep may delete, in pages by digest. */
  collectableBlobPage(cutoff: number, after: string, limit: number): BlobRow[] {
    return this.collectableBlobs.all({ cutoff, after, limit });
  }

  /**
   * Forget a blob if it is still collectable: links and row go in one transaction. Returns its
   * size, or undefined when a push referenced, re-pushed or mounted it since the mark.
   */
  deleteBlobIfCollectable(digest: string, cutoff: number): number | undefined {
    return this.transaction(() => {
      const row = this.collectableBlob.get({ digest, cutoff });
      if (!row) return undefined;
      this.forgetBlobRows(digest);
      return row.size;
    });
  }

  /** Forget a blob whatever references it (scrub --repair: its bytes are gone or wrong). */
  forgetBlob(digest: string): boolean {
    return this.transaction(() => this.forgetBlobRows(digest));
  }

  /** A blob was pushed or mounted again: a manifest referencing it is on its way. */
  touchBlob(digest: string): void {
    this.touchBlobStmt.run(Date.now(), digest);
  }

  /** A manifest was pushed again: an index or tag referencing it may follow. */
  touchManifest(repositoryId: number, digest: string): void {
    this.touchManifestStmt.run(Date.now(), repositoryId, digest);
  }

  /** Repositories owned by a cluster resource (cvi/, vi/, vd/), with their latest activity. */
  ownerRepositories(): RepositoryActivity[] {
    return this.ownerRepositoriesStmt.all();
  }

  /**
   * Delete a repository with all its tags, manifests and blob links (an admin's delete). The
   * blobs' grace clocks restart now, as after any other delete.
   */
  deleteRepository(name: string): { manifests: number; tags: number } | undefined {
    return this.transaction(() => {
      const repo = this.repositoryByName.get(name);
      if (!repo) return undefined;
      this.deleteRepositoryStmt.run(repo.id);
      return { manifests: repo.manifests, tags: repo.tags };
    });
  }

  /**
   * Delete a repository whose owner is gone, unless it saw activity after `idleBefore` (checked
   * again here: a push may have started since the list was taken). Its blobs' grace clocks keep
   * the time of the last activity, so the same GC run reclaims them.
   */
  deleteIdleRepository(name: string, idleBefore: number): boolean {
    return this.transaction(() => {
      const repo = this.activityOf.get(name);
      if (!repo || repo.lastActivity > idleBefore) return false;
      const clocks = this.repositoryBlobClocks.all({ id: repo.id, since: repo.lastActivity });
      this.preservingClocks(clocks, () => this.deleteRepositoryStmt.run(repo.id));
      return true;
    });
  }

  /** What the blob sweep would free now (bytes and count), without a file walk. */
  reclaimable(cutoff: number): { bytes: number; blobs: number } {
    return this.reclaimableStmt.get({ cutoff })!;
  }

  idleUploads(cutoff: number): { id: string; repository: string; size: number }[] {
    return this.idleUploadsStmt.all(cutoff);
  }

  usage(): { blobsBytes: number; blobs: number; uploadsBytes: number; uploads: number } {
    return this.usageStmt.get()!;
  }

  /** Stored blobs in pages by digest (all, or those linked to one repository). */
  blobPage(after: string, limit: number, repository?: string): BlobRow[] {
    return repository === undefined ? this.blobsPage.all({ after, limit }) : this.repositoryBlobsPage.all({ repository, after, limit });
  }

  private forgetBlobRows(digest: string): boolean {
    this.deleteLinks.run(digest);
    return this.deleteBlob.run(digest).changes > 0;
  }

  /** Run a delete, then set the touched blobs' clocks to max(before, since) (see callers). */
  private preservingClocks(clocks: ClockRow[], remove: () => void): void {
    remove();
    for (const c of clocks) this.restoreClock.run({ digest: c.digest, clock: Math.max(c.prior, c.since) });
  }

  private transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}
