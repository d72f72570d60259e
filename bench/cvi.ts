#!/usr/bin/env node
import { execFile } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { parseByteSize } from "../src/config/units.js";
import { serveDirectory } from "./file-server.js";
import { runDvcrImport } from "./figures/importer.js";
import { dvcrLauncher } from "./servers.js";
import { pairRatios, summarize, type Summary } from "./stats.js";
import { MiB } from "./timing.js";

const run = promisify(execFile);

const HELP = `npm run bench:cvi -- [--pairs N] [--size SIZE] [--out FILE]

ClusterVirtualImage provisioning as its user sees it, in alternating pairs against the importer
alone:
  - \`kubectl apply\` of an HTTP ClusterVirtualImage (a raw disk of SIZE random bytes on a local
    server) until the API reports Ready (goal: <= 2 s for 64 MiB), timed by a watch;
  - \`dvcr import\` of the same URL into the same registry: what the controller adds is the ratio.

  --size SIZE  disk size (default 64MiB)
  --pairs N    alternating pairs (default 5)
`;

const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bench/results");
const API = "/apis/virtualization.deckhouse.io/v1alpha2/clustervirtualimages";

function log(message: string): void {
  process.stderr.write(`[bench:cvi ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/**
 * Resolves when the watch reports `name` Ready (rejects on Failed). Opened before the apply, so
 * the time measured ends at the first moment any client could have seen Ready.
 */
async function watchUntilReady(base: string, name: string, signal: AbortSignal): Promise<{ ready: Promise<void> }> {
  const res = await fetch(`${base}${API}?watch=true&fieldSelector=metadata.name%3D${name}`, { signal });
  if (!res.ok || !res.body) throw new Error(`watch: ${res.status}`);
  const ready = (async () => {
    let pending = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      pending += Buffer.from(chunk).toString("utf8");
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const event = JSON.parse(pending.slice(0, newline)) as { object: { status?: { phase?: string; conditions?: { type: string; message: string }[] } } };
        pending = pending.slice(newline + 1);
        const phase = event.object.status?.phase;
        if (phase === "Ready") return;
        if (phase === "Failed") throw new Error(`${name} failed: ${event.object.status?.conditions?.find((c) => c.type === "Ready")?.message}`);
      }
    }
    throw new Error(`the watch of ${name} ended before Ready`);
  })();
  return { ready };
}

async function applyUntilReady(base: string, name: string, url: string, work: string): Promise<number> {
  const manifest = path.join(work, `${name}.yaml`);
  writeFileSync(
    manifest,
    `apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: ClusterVirtualImage\nmetadata:\n  name: ${name}\nspec:\n  dataSource:\n    type: HTTP\n    http:\n      url: ${url}\n`,
  );
  const abort = new AbortController();
  try {
    const { ready } = await watchUntilReady(base, name, abort.signal);
    const started = process.hrtime.bigint();
    await run("kubectl", ["--server", base, "--cache-dir", path.join(work, "kube-cache"), "apply", "-f", manifest], { env: { PATH: process.env.PATH, HOME: work } });
    await ready;
    return Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    abort.abort();
  }
}

function span(s: Summary, digits: number): string {
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { pairs: { type: "string" }, size: { type: "string" }, out: { type: "string" }, help: { type: "boolean" } }, strict: true });
  if (values.help) return void process.stdout.write(HELP);
  const pairs = Number(values.pairs ?? 5);
  const size = parseByteSize(values.size ?? "64MiB");
  const out = values.out ?? path.join(RESULTS_DIR, "cvi-latest.json");
  const work = mkdtempSync(path.join(os.tmpdir(), "dvcr-bench-cvi-"));
  try {
    writeFileSync(path.join(work, "disk.img"), randomFillSync(Buffer.allocUnsafe(size)));
    const files = await serveDirectory(work);
    const url = `http://127.0.0.1:${(files.address() as AddressInfo).port}/disk.img`;
    const dvcr = await dvcrLauncher.start(path.join(work, "root"));
    const applied: number[] = [];
    const imported: number[] = [];
    try {
      // One unmeasured round: kubectl's discovery cache and the server's first-request costs.
      await applyUntilReady(dvcr.url, "warm-up", url, work);
      for (let pair = 0; pair < pairs; pair++) {
        applied.push(await applyUntilReady(dvcr.url, `bench-${pair}`, url, work));
        imported.push((await runDvcrImport(url, `${new URL(dvcr.url).host}/bench/import-${pair}:latest`)).seconds);
        log(`pair ${pair + 1}/${pairs}: apply → Ready ${applied[pair]!.toFixed(3)} s, dvcr import ${imported[pair]!.toFixed(3)} s`);
      }
    } finally {
      await dvcr.stop();
      files.close();
    }
    const apply = summarize(applied);
    const importer = summarize(imported);
    const ratio = summarize(pairRatios(applied, imported));
    const cpus = os.cpus();
    const result = { schema: 1, date: new Date().toISOString(), pairs, diskBytes: size, machine: { cpu: cpus[0]?.model.trim(), cores: cpus.length, node: process.version }, apply, importer, ratio, goalSeconds: 2, met: apply.median <= 2 };
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(
      [
        `ClusterVirtualImage apply → Ready, ${(size / MiB).toFixed(0)} MiB raw over local HTTP, ${pairs} pair(s), ${result.date}; ${result.machine.cpu}, ${cpus.length} cores`,
        "",
        "| figure | seconds, median (min–max) |",
        "|---|---|",
        `| kubectl apply → Ready | ${span(apply, 3)} — goal ≤ 2 s: ${result.met ? "met" : "NOT met"} |`,
        `| dvcr import of the same URL | ${span(importer, 3)} |`,
        `| ratio apply / import | ${span(ratio, 2)} |`,
        "",
      ].join("\n"),
    );
    log(`results written to ${out}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench:cvi failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
