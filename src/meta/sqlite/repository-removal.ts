import type { Database, Statement } from "better-sqlite3";
import type { RepositoryActivity } from "../records.js";
import type { GraceClocks } from "./grace-clocks.js";

/** Removing whole repositories: an admin's delete, and DVCR's cleaner (owners that are gone). */
export class RepositoryRemoval {
  private readonly ownedStmt: Statement<[], RepositoryActivity>;
  private readonly activityOf: Statement<[string], RepositoryActivity>;
  private readonly byName: Statement<[string], { id: number; manifests: number; tags: number }>;
  private readonly deleteStmt: Statement<[number]>;

  constructor(
    db: Database,
    private readonly clocks: GraceClocks,
  ) {
    const activity = `SELECT r.id, r.name, MAX(
          r.created_at,
          COALESCE((SELECT MAX(MAX(m.created_at, COALESCE(m.idle_since, 0))) FROM manifests m WHERE m.repository_id = r.id), 0),
          COALESCE((SELECT MAX(l.created_at) FROM repository_blobs l WHERE l.repository_id = r.id), 0),
          COALESCE((SELECT MAX(u.updated_at) FROM uploads u WHERE u.repository = r.name), 0)
        ) AS lastActivity
         FROM repositories r`;
    // DVCR's owners: ClusterVirtualImage, VirtualImage and VirtualDisk repositories.
    this.ownedStmt = db.prepare(`${activity} WHERE r.name LIKE 'cvi/%' OR r.name LIKE 'vi/%' OR r.name LIKE 'vd/%' ORDER BY r.name`);
    this.activityOf = db.prepare(`${activity} WHERE r.name = ?`);
    this.byName = db.prepare(
      `SELECT r.id,
              (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id) AS manifests,
              (SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id) AS tags
         FROM repositories r WHERE r.name = ?`,
    );
    this.deleteStmt = db.prepare("DELETE FROM repositories WHERE id = ?");
  }

  owned(): RepositoryActivity[] {
    return this.ownedStmt.all();
  }

  /** Call inside a transaction. */
  delete(name: string): { manifests: number; tags: number } | undefined {
    const repo = this.byName.get(name);
    if (!repo) return undefined;
    this.deleteStmt.run(repo.id);
    return { manifests: repo.manifests, tags: repo.tags };
  }

  /** Call inside a transaction. */
  deleteIfIdle(name: string, idleBefore: number): boolean {
    const repo = this.activityOf.get(name);
    if (!repo || repo.lastActivity > idleBefore) return false;
    this.clocks.preserving(this.clocks.ofRepository(repo.id, repo.lastActivity), () => this.deleteStmt.run(repo.id));
    return true;
  }
}
