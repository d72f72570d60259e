import type { Database, Statement } from "better-sqlite3";
import type { Clock } from "../../config/clock.js";
import type { IdleUpload, UploadRecord } from "../records.js";

interface UploadRow {
  id: string;
  repository: string;
  size: number;
  created_at: number;
  updated_at: number;
}

function toRecord(row: UploadRow): UploadRecord {
  return { id: row.id, repository: row.repository, size: row.size, createdAt: row.created_at, updatedAt: row.updated_at };
}

/** Upload sessions: persisted so an upload in progress survives a restart. */
export class UploadTable {
  private readonly insert: Statement<[string, string, number, number]>;
  private readonly byId: Statement<[string], UploadRow>;
  private readonly resize: Statement<[number, number, string]>;
  private readonly remove: Statement<[string]>;
  private readonly all: Statement<[], UploadRow>;
  private readonly idleStmt: Statement<[number], IdleUpload>;
  private readonly removeIdle: Statement<[string, number]>;

  constructor(
    db: Database,
    private readonly clock: Clock,
  ) {
    this.insert = db.prepare("INSERT INTO uploads (id, repository, size, created_at, updated_at) VALUES (?, ?, 0, ?, ?)");
    this.byId = db.prepare("SELECT * FROM uploads WHERE id = ?");
    this.resize = db.prepare("UPDATE uploads SET size = ?, updated_at = ? WHERE id = ?");
    this.remove = db.prepare("DELETE FROM uploads WHERE id = ?");
    this.all = db.prepare("SELECT * FROM uploads");
    this.idleStmt = db.prepare("SELECT id, repository, size FROM uploads WHERE updated_at <= ? ORDER BY updated_at");
    this.removeIdle = db.prepare("DELETE FROM uploads WHERE id = ? AND updated_at <= ?");
  }

  create(id: string, repository: string): UploadRecord {
    const now = this.clock.now();
    this.insert.run(id, repository, now, now);
    return { id, repository, size: 0, createdAt: now, updatedAt: now };
  }

  get(id: string): UploadRecord | undefined {
    const row = this.byId.get(id);
    return row && toRecord(row);
  }

  setSize(id: string, size: number): void {
    this.resize.run(size, this.clock.now(), id);
  }

  delete(id: string): boolean {
    return this.remove.run(id).changes > 0;
  }

  list(): UploadRecord[] {
    return this.all.all().map(toRecord);
  }

  idle(idleBefore: number): IdleUpload[] {
    return this.idleStmt.all(idleBefore);
  }

  deleteIfIdle(id: string, idleBefore: number): boolean {
    return this.removeIdle.run(id, idleBefore).changes > 0;
  }
}
