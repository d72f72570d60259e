import type { Database, Statement } from "better-sqlite3";
import type { BlobRow, DeadManifest } from "../records.js";
import { GraceClocks } from "./grace-clocks.js";

/**
 * Live manifests (mark phase), as a recursive CTE over the whole registry. Roots: manifests
 * with a tag, and untagged ones still inside their grace period (a push that sends children
 * before the index, or a manifest before its tag). From a live manifest, its index children and
 * the referrers whose subject it is are live too (same repository). UNION ends cycles.
 */
export const LIVE_MANIFESTS = `
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

/**
 * Garbage collection's mark and sweep. Each mutating function is one synchronous transaction
 * that re-checks its condition, so it is safe against pushes that commit between GC's mark and
 * sweep.
 */
export class CollectionQueries {
  private readonly deadManifestsStmt: Statement<{ cutoff: number; limit: number }, DeadManifest>;
  private readonly deleteManifestsStmt: Statement<{ ids: string }>;
  private readonly collectableBlobsStmt: Statement<{ cutoff: number; after: string; limit: number }, BlobRow>;
  private readonly collectableBlob: Statement<{ cutoff: number; digest: string }, { size: number }>;
  private readonly reclaimableStmt: Statement<{ cutoff: number }, { bytes: number; blobs: number }>;

  constructor(
    private readonly db: Database,
    private readonly clocks: GraceClocks,
    private readonly forgetBlob: (digest: string) => boolean,
  ) {
    this.deadManifestsStmt = db.prepare(
      `WITH RECURSIVE ${LIVE_MANIFESTS}
       SELECT m.id, r.name AS repository, m.digest, m.size FROM manifests m JOIN repositories r ON r.id = m.repository_id
        WHERE m.id NOT IN (SELECT id FROM live) ORDER BY m.id LIMIT @limit`,
    );
    this.deleteManifestsStmt = db.prepare("DELETE FROM manifests WHERE id IN (SELECT value FROM json_each(@ids))");
    this.collectableBlobsStmt = db.prepare(
      `WITH RECURSIVE ${LIVE_MANIFESTS}
       SELECT b.digest, b.size FROM blobs b WHERE b.digest > @after AND ${COLLECTABLE_BLOB} ORDER BY b.digest LIMIT @limit`,
    );
    // The sweep's re-check: any reference at all keeps the blob (a manifest committed since
    // the mark is live by definition).
    this.collectableBlob = db.prepare(
      `SELECT b.size FROM blobs b WHERE b.digest = @digest AND COALESCE(b.idle_since, b.created_at) <= @cutoff
         AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.digest = b.digest AND r.kind = 'blob')`,
    );
    this.reclaimableStmt = db.prepare(
      `WITH RECURSIVE ${LIVE_MANIFESTS}
       SELECT COALESCE(SUM(b.size), 0) AS bytes, COUNT(*) AS blobs FROM blobs b WHERE ${COLLECTABLE_BLOB}`,
    );
  }

  deadManifests(cutoff: number, limit: number): DeadManifest[] {
    return this.deadManifestsStmt.all({ cutoff, limit });
  }

  /** Call inside a transaction. */
  deleteDeadManifests(cutoff: number, limit: number): DeadManifest[] {
    const dead = this.deadManifestsStmt.all({ cutoff, limit });
    if (dead.length === 0) return dead;
    const ids = JSON.stringify(dead.map((m) => m.id));
    this.clocks.preserving(this.clocks.ofManifests(ids), () => this.deleteManifestsStmt.run({ ids }));
    return dead;
  }

  collectableBlobs(cutoff: number, after: string, limit: number): BlobRow[] {
    return this.collectableBlobsStmt.all({ cutoff, after, limit });
  }

  /** Call inside a transaction. */
  deleteBlobIfCollectable(digest: string, cutoff: number): number | undefined {
    const row = this.collectableBlob.get({ digest, cutoff });
    if (!row) return undefined;
    this.forgetBlob(digest);
    return row.size;
  }

  reclaimable(cutoff: number): { bytes: number; blobs: number } {
    return this.reclaimableStmt.get({ cutoff })!;
  }
}
