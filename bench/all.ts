#!/usr/bin/env node
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `npm run bench`: the registry figures (bench/main.ts, which takes every option), then — unless
 * `--only` or `--baseline` narrows the run to the registry — the importer's and the
 * ClusterVirtualImage figures, each with `--quick` passed on (`npm run bench -- --quick`).
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes("--quick");

function step(script: string, scriptArgs: string[]): void {
  const result = spawnSync(process.execPath, [path.join(here, script), ...scriptArgs], { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

step("main.js", args);
if (!args.some((a) => a === "--only" || a.startsWith("--only=") || a === "--baseline" || a.startsWith("--baseline=") || a === "--help")) {
  step("importer.js", quick ? ["--quick"] : []);
  step("cvi.js", quick ? ["--pairs", "1"] : []);
}
