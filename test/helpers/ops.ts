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
