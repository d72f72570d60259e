import type { Database, Statement } from "better-sqlite3";
import type { Clock } from "../../config/clock.js";
import type { Page } from "../records.js";

export class RepositoryTable {
  private readonly byName: Statement<[string], { id: number }>;
  private readonly insert: Statement<[string, number]>;
  private readonly pageAfter: Statement<[string, number], { name: string }>;

  constructor(
    db: Database,
    private readonly clock: Clock,
  ) {
    this.byName = db.prepare("SELECT id FROM repositories WHERE name = ?");
    this.insert = db.prepare("INSERT OR IGNORE INTO repositories (name, created_at) VALUES (?, ?)");
    // The catalog lists repositories that hold at least one manifest, as distribution does.
    this.pageAfter = db.prepare(
      `SELECT name FROM repositories r
       WHERE name > ? AND EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)
       ORDER BY name LIMIT ?`,
    );
  }

  idOf(name: string): number | undefined {
    return this.byName.get(name)?.id;
  }

  /** The repository's id, creating it on first use (call inside a transaction). */
  ensure(name: string): number {
    this.insert.run(name, this.clock.now());
    return this.byName.get(name)!.id;
  }

  list(page: Page): string[] {
    return this.pageAfter.all(page.last ?? "", page.limit ?? -1).map((r) => r.name);
  }
}
