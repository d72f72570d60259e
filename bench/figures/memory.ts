import { readFileSync } from "node:fs";
import type { FigureDefinition } from "../figure.js";
import type { RunningRegistry } from "../servers.js";
import { MiB } from "../timing.js";

/** Issue 15's memory bounds for one dvcr process. */
const IDLE_RSS_LIMIT_MIB = 60;
const MIXED_PEAK_RSS_LIMIT_MIB = 150;
/** How long a freshly started server is left alone before its idle RSS is read. */
export const IDLE_SETTLE_MS = 5_000;

export const memoryFigures = (connections: number): FigureDefinition[] => [
  {
    id: "rss_idle",
    title: `RSS at idle (${IDLE_SETTLE_MS / 1000} s after start, empty root)`,
    unit: "MiB",
    better: "lower",
    targets: [{ kind: "peak", atMost: IDLE_RSS_LIMIT_MIB }],
  },
  {
    id: "rss_peak_mixed",
    title: `peak RSS of one process after push + pull + ${connections}-connection wrk`,
    unit: "MiB",
    better: "lower",
    targets: [{ kind: "peak", atMost: MIXED_PEAK_RSS_LIMIT_MIB }],
  },
];

/** Resident set size now (VmRSS), in MiB. */
export function currentRssMiB(server: RunningRegistry): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS in /proc/${server.pid}/status`);
  return (Number(m[1]) * 1024) / MiB;
}
