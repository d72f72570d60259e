import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { DEFAULT_CONFIG, type Config } from "../../src/config/config.js";
import type { GcReport } from "../../src/gc/collector.js";
import type { ScrubReport } from "../../src/gc/scrub.js";
import type { TestClient } from "./client.js";

/** Test servers run no scheduled GC or scrub unless a test asks for one. */
export function opsConfig(overrides: { gc?: Partial<Config["gc"]>; scrub?: Partial<Config["scrub"]>; reserve?: Partial<Config["storage"]["reserve"]> } = {}): Partial<Config> {
  return {
    gc: { ...DEFAULT_CONFIG.gc, schedule: "off", ...overrides.gc },
    scrub: { ...DEFAULT_CONFIG.scrub, schedule: "off", ...overrides.scrub },
    storage: { ...DEFAULT_CONFIG.storage, reserve: { ...DEFAULT_CONFIG.storage.reserve, ...overrides.reserve } },
  };
}

export async function postJson<T>(client: TestClient, route: string, body: unknown = {}): Promise<T> {
  const res = await client.fetch(route, { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${route}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

export function runGc(client: TestClient, body: { dryRun?: boolean; grace?: string | number; keepRepositories?: string[] } = {}): Promise<GcReport> {
  return postJson<GcReport>(client, "/api/v1/gc", body);
}

export function runScrub(client: TestClient, body: { repository?: string; repair?: boolean } = {}): Promise<ScrubReport> {
  return postJson<ScrubReport>(client, "/api/v1/scrub", body);
}

/**
 * Make everything in a data root look `ms` older (GC's grace periods are an hour by default; a
 * test cannot wait that long). Edits the live database beside the running server, as WAL allows.
 */
export function ageDatabase(root: string, ms: number): void {
  const db = new BetterSqlite3(path.join(root, "meta.db"), { timeout: 5000 });
  try {
    db.transaction(() => {
      db.prepare("UPDATE manifests SET created_at = created_at - ?, idle_since = idle_since - ?").run(ms, ms);
      db.prepare("UPDATE blobs SET created_at = created_at - ?, idle_since = idle_since - ?").run(ms, ms);
      db.prepare("UPDATE repositories SET created_at = created_at - ?").run(ms);
      db.prepare("UPDATE repository_blobs SET created_at = created_at - ?").run(ms);
      db.prepare("UPDATE uploads SET created_at = created_at - ?, updated_at = updated_at - ?").run(ms, ms);
    })();
  } finally {
    db.close();
  }
}

/** The value of one sample of a Prometheus text exposition, or undefined when absent. */
export function metricValue(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of exposition.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((p) => [p[1], p[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

export const HOUR = 60 * 60 * 1000;
