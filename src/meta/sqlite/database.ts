import BetterSqlite3, { type Database } from "better-sqlite3";
import type { Clock } from "../../config/clock.js";
import { migrate } from "./migrations.js";

/**
 * Open the metadata database. WAL lets readers (pulls) proceed while a writer commits;
 * synchronous=FULL makes every commit durable before we answer the client, which the
 * crash-safety promise (a 201 means stored) depends on. `dvcr_now()` is the injected clock, for
 * the triggers that restart grace clocks.
 */
export function openDatabase(file: string, clock: Clock): Database {
  const db = new BetterSqlite3(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  db.function("dvcr_now", { deterministic: false }, () => clock.now());
  migrate(db);
  return db;
}
