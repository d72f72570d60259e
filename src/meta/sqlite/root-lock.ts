import path from "node:path";
import BetterSqlite3, { type Database } from "better-sqlite3";

export class RootLockedError extends Error {
  constructor(readonly root: string) {
    super(
      `another dvcr process is using the data root ${root}; stop it first, or run the command against it ` +
        `with --url (e.g. dvcr gc --url http://127.0.0.1:5000)`,
    );
    this.name = "RootLockedError";
  }
}

/**
 * One process owns a data root at a time: a running server, or an offline `dvcr gc`/`scrub`.
 * GC's coordination with uploads is in-process (registry/single-process.ts), so an offline GC
 * beside a live server could delete a blob an upload is committing. The lock is an exclusive transaction on
 * `<root>/dvcr.lock` (a tiny SQLite file): SQLite's POSIX locks are released by the kernel when
 * the process dies, so a crash never leaves a stale lock behind, and a second opener in the same
 * process is refused too.
 */
export class RootLock {
  private constructor(private readonly db: Database) {}

  static acquire(root: string): RootLock {
    const db = new BetterSqlite3(path.join(root, "dvcr.lock"), { timeout: 0 });
    try {
      // The journal in memory: the lock file is the only file the lock leaves in the root.
      db.pragma("journal_mode = MEMORY");
      db.exec("BEGIN EXCLUSIVE");
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === "SQLITE_BUSY") throw new RootLockedError(root);
      throw err;
    }
    return new RootLock(db);
  }

  release(): void {
    if (!this.db.open) return;
    if (this.db.inTransaction) this.db.exec("ROLLBACK");
    this.db.close();
  }
}
