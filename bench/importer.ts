#!/usr/bin/env node
import { execFileSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseByteSize } from "../src/config/units.js";
import { importImage } from "../src/importer/index.js";
import { measurePipeline, measureSkopeoCopy, runDvcrImport } from "./figures/importer.js";
import { serveDirectory } from "./file-server.js";
import { dvcrLauncher, referenceLauncher } from "./servers.js";
import { pairRatios, summarize, type Summary } from "./stats.js";
import { megabytesPerSecond, MiB } from "./timing.js";

const HELP = `npm run bench:importer -- [--quick] [--pairs N] [--size SIZE] [--out FILE] [--work DIR]

The importer against what it replaces, in alternating pairs (importer, baseline, importer, …):
  - HTTP import of an xz-compressed qcow2 into dvcr vs \`curl | xz -dc -T0 | sha256sum > file\`
    on the same file from the same server (goal: >= 90 %);
  - import of a disk image from another registry (the reference registry 2.8) into dvcr vs
    \`skopeo copy --preserve-digests\` of the same image (goal: >= 1.5x);
  - peak RSS of \`dvcr import\` (goal: <= 150 MiB for a 2 GiB disk).
Speeds are the disk's decompressed bytes per second of wall time, process start-up included.

  --size SIZE  guest data in the disk (default 2GiB; quick 64MiB), half random, half compressible
  --pairs N    alternating pairs (default 5; quick 1)
`;

const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bench/results");

function log(message: string): void {
  process.stderr.write(`[bench:importer ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** A disk like an OS image: incompressible stretches (binaries, compressed files) between compressible ones (text, zeros). */
async function writeDiskData(file: string, size: number): Promise<void> {
  const out = createWriteStream(file);
  const block = 4 * MiB;
  const text = Buffer.alloc(block);
  for (let i = 0; i < block; i += 64) text.write(`${(i * 2654435761) % 1000003} lorem ipsum dolor sit amet\n`.padEnd(64, " "), i);
  for (let written = 0, n = 0; written < size; n++) {
    const length = Math.min(block, size - written);
    const chunk = n % 2 === 0 ? randomFillSync(Buffer.allocUnsafe(length)) : text.subarray(0, length);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
    written += length;
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

interface Row {
  title: string;
  unit: string;
  importer: Summary;
  baseline?: Summary;
  ratio?: Summary;
  target: string;
  met: boolean;
}

function num(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function render(rows: Row[], header: string): string {
  const span = (s: Summary) => `${num(s.median)} (${num(s.min)}–${num(s.max)})`;
  const lines = [header, "", "| figure | unit | importer median (min–max) | baseline median (min–max) | ratio, median (min–max) | target |", "|---|---|---|---|---|---|"];
  for (const r of rows) lines.push(`| ${r.title} | ${r.unit} | ${span(r.importer)} | ${r.baseline ? span(r.baseline) : "—"} | ${r.ratio ? span(r.ratio) : "—"} | ${r.target}: ${r.met ? "met" : "NOT met"} |`);
  return `${lines.join("\n")}\n`;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { quick: { type: "boolean" }, pairs: { type: "string" }, size: { type: "string" }, out: { type: "string" }, work: { type: "string" }, help: { type: "boolean" } }, strict: true });
  if (values.help) return void process.stdout.write(HELP);
  const quick = values.quick ?? false;
  const pairs = Number(values.pairs ?? (quick ? 1 : 5));
  const dataBytes = parseByteSize(values.size ?? (quick ? "64MiB" : "2GiB"));
  const out = values.out ?? path.join(RESULTS_DIR, quick ? "importer-quick.json" : "importer-latest.json");
  const work = values.work ?? mkdtempSync(path.join(os.tmpdir(), "dvcr-bench-importer-"));
  mkdirSync(work, { recursive: true });
  const servers: { stop(): Promise<void> }[] = [];
  try {
    log(`fixtures in ${work}: a qcow2 of ${dataBytes} bytes of guest data, xz -T0`);
    const raw = path.join(work, "disk.raw");
    await writeDiskData(raw, dataBytes);
    const qcow2 = path.join(work, "disk.qcow2");
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, qcow2]);
    rmSync(raw);
    execFileSync("xz", ["-T0", "-1", "-k", "-f", qcow2]);
    const diskBytes = statSync(qcow2).size;
    const files = await serveDirectory(work);
    const url = `http://127.0.0.1:${(files.address() as AddressInfo).port}/disk.qcow2.xz`;
    const reference = await referenceLauncher.start(path.join(work, "reference"));
    servers.push(reference);
    const referenceHost = new URL(reference.url).host;
    await importImage({ source: { type: "file", path: qcow2 }, destination: { registry: reference.url, repository: "src/disk", tag: "latest" } });

    const samples = { http: [] as number[], pipeline: [] as number[], registry: [] as number[], skopeo: [] as number[], rss: [] as number[], rssRegistry: [] as number[] };
    for (let pair = 0; pair < pairs; pair++) {
      const fresh = async (name: string) => {
        const server = await dvcrLauncher.start(path.join(work, `dvcr-${pair}-${name}`));
        return server;
      };
      log(`pair ${pair + 1}/${pairs}: HTTP import`);
      let dvcr = await fresh("http");
      const imported = await runDvcrImport(url, `${new URL(dvcr.url).host}/cvi/bench:latest`);
      await dvcr.stop();
      samples.http.push(megabytesPerSecond(diskBytes, imported.seconds));
      samples.rss.push(imported.peakRssBytes / MiB);
      log(`pair ${pair + 1}/${pairs}: curl | xz -dc -T0 | sha256sum`);
      samples.pipeline.push(megabytesPerSecond(diskBytes, await measurePipeline(url, path.join(work, "pipeline.sha256"))));
      log(`pair ${pair + 1}/${pairs}: registry import`);
      dvcr = await fresh("registry");
      const copied = await runDvcrImport(`docker://${referenceHost}/src/disk:latest`, `${new URL(dvcr.url).host}/cvi/bench:latest`);
      await dvcr.stop();
      samples.registry.push(megabytesPerSecond(diskBytes, copied.seconds));
      samples.rssRegistry.push(copied.peakRssBytes / MiB);
      log(`pair ${pair + 1}/${pairs}: skopeo copy`);
      dvcr = await fresh("skopeo");
      samples.skopeo.push(megabytesPerSecond(diskBytes, await measureSkopeoCopy(`docker://${referenceHost}/src/disk:latest`, `docker://${new URL(dvcr.url).host}/cvi/bench:latest`)));
      await dvcr.stop();
      for (const name of ["http", "registry", "skopeo"]) rmSync(path.join(work, `dvcr-${pair}-${name}`), { recursive: true, force: true });
    }
    files.close();
    const http = summarize(samples.http);
    const pipeline = summarize(samples.pipeline);
    const httpRatio = summarize(pairRatios(samples.http, samples.pipeline));
    const registry = summarize(samples.registry);
    const skopeo = summarize(samples.skopeo);
    const registryRatio = summarize(pairRatios(samples.registry, samples.skopeo));
    const rss = summarize(samples.rss);
    const rssRegistry = summarize(samples.rssRegistry);
    const size = `${(diskBytes / 1024 ** 3).toFixed(2)} GiB qcow2`;
    const rows: Row[] = [
      { title: `HTTP import of an xz ${size} vs curl \\| xz -dc -T0 \\| sha256sum`, unit: "MB/s", importer: http, baseline: pipeline, ratio: httpRatio, target: "≥ 0.9×", met: httpRatio.median >= 0.9 },
      { title: `registry import of that ${size} image vs skopeo copy`, unit: "MB/s", importer: registry, baseline: skopeo, ratio: registryRatio, target: "≥ 1.5×", met: registryRatio.median >= 1.5 },
      { title: `peak RSS of dvcr import, HTTP xz ${size}`, unit: "MiB", importer: rss, target: "≤ 150 MiB", met: rss.max <= 150 },
      { title: `peak RSS of dvcr import, registry ${size}`, unit: "MiB", importer: rssRegistry, target: "≤ 150 MiB", met: rssRegistry.max <= 150 },
    ];
    const cpus = os.cpus();
    const header = `dvcr import vs baselines, ${pairs} alternating pair(s), ${new Date().toISOString()}; ${cpus[0]?.model.trim()}, ${cpus.length} cores, Node ${process.version}, ${execFileSync("xz", ["--version"], { encoding: "utf8" }).split("\n")[0]}`;
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify({ schema: 1, date: new Date().toISOString(), quick, pairs, diskBytes, compressedBytes: statSync(`${qcow2}.xz`).size, rows }, null, 2)}\n`);
    process.stdout.write(render(rows, header));
    log(`results written to ${out}`);
  } finally {
    for (const s of servers) await s.stop().catch(() => undefined);
    if (values.work === undefined) rmSync(work, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench:importer failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
