#!/usr/bin/env node
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseByteSize } from "../src/config/units.js";
import type { FigureDefinition, Samples, Sizes } from "./figure.js";
import { blobFile, writeDiskImageLayout, writeRandomFile } from "./fixtures.js";
import { measureMachineLimits, type MachineLimits } from "./figures/machine-limits.js";
import { memoryFigures } from "./figures/memory.js";
import { peakRssFigures } from "./figures/peak-rss.js";
import { pullFigure } from "./figures/pull.js";
import { pushChunkedFigure } from "./figures/push-chunked.js";
import { pushMonolithicFigure } from "./figures/push-monolithic.js";
import { rangeGetFigure } from "./figures/range-get.js";
import { skopeoFigures } from "./figures/skopeo-image.js";
import { underLoadFigures } from "./figures/under-load.js";
import { canDropPageCache, CachePolicy } from "./page-cache.js";
import { PHASES, type BenchPlan } from "./phases.js";
import { buildFigureResults, renderTable, type BenchResults, type MachineInfo } from "./report.js";
import { baselineLauncher, dvcrLauncher, referenceLauncher } from "./servers.js";
import { summarize } from "./stats.js";
import { MiB } from "./timing.js";

const HELP = `npm run bench -- [--quick] [--pairs N] [--size SIZE] [--out FILE] [--baseline DIR]

Side-by-side benchmark of dvcr and the CNCF reference registry (docker-registry 2.8), each figure
measured alternately dvcr, reference, dvcr, reference … and reported as medians and pair ratios.

  --quick      small sizes (16 MiB blob, 4 MiB chunks, 1 s of load), 1 pair, no page-cache drops,
               no targets judged: proves the harness runs (CI)
  --pairs N    alternating pairs (default 5; at least 5 for a run whose targets count)
  --size SIZE  the blob and disk size (default 1GiB); chunks stay 64 MiB, the Range GET 64 MiB
  --out FILE   results JSON (default bench/results/latest.json, quick: bench/results/quick.json)
  --work DIR   where fixtures and registry roots go (default a temp dir, removed afterwards)
  --only P,…   run only these phases (blob, chunked, skopeo, memory) and report their figures;
               e.g. --only memory for the idle and mixed-workload RSS alone
  --baseline DIR  measure another build of dvcr in the reference's place (a checkout of an older
               commit with \`npm ci && npm run build\` done): a change to dvcr before and after, in
               one run; the targets, which are set against the reference, are not judged
`;

const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bench/results");

interface Options {
  quick: boolean;
  pairs: number;
  sizes: Sizes;
  out: string;
  work: string | undefined;
  /** Phase names to run; undefined: all. */
  only: string[] | undefined;
  /** A dvcr checkout to compare against instead of the reference registry. */
  baseline: string | undefined;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      pairs: { type: "string" },
      size: { type: "string" },
      out: { type: "string" },
      work: { type: "string" },
      only: { type: "string" },
      baseline: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return null;
  }
  const quick = values.quick ?? false;
  const pairs = values.pairs === undefined ? (quick ? 1 : 5) : Number(values.pairs);
  if (!Number.isInteger(pairs) || pairs < 1) throw new Error(`--pairs must be a positive integer, got ${values.pairs}`);
  const blobBytes = parseByteSize(values.size ?? (quick ? "16MiB" : "1GiB"));
  if (blobBytes < MiB) throw new Error("--size must be at least 1 MiB");
  const sizes: Sizes = {
    blobBytes,
    chunkBytes: Math.min(quick ? 4 * MiB : 64 * MiB, blobBytes),
    rangeBytes: Math.min(quick ? MiB : 64 * MiB, blobBytes),
  };
  const out = values.out ?? path.join(RESULTS_DIR, quick ? "quick.json" : "latest.json");
  const only = values.only?.split(",").map((p) => p.trim());
  const unknown = only?.filter((name) => !PHASES.some((p) => p.name === name));
  if (unknown?.length) throw new Error(`--only: unknown phase ${unknown.join(", ")} (phases: ${PHASES.map((p) => p.name).join(", ")})`);
  if (values.baseline !== undefined && !existsSync(path.join(values.baseline, "dist/src/cli/main.js"))) {
    throw new Error(`--baseline ${values.baseline}: no dist/src/cli/main.js there (run npm ci && npm run build in it first)`);
  }
  return { quick, pairs, sizes, out, work: values.work, only, baseline: values.baseline };
}

/** What the second registry of each pair is: the reference's version, or the baseline's commit. */
function secondRegistry(baseline: string | undefined): string {
  if (baseline === undefined) return execFileSync("docker-registry", ["--version"], { encoding: "utf8" }).trim();
  const commit = execFileSync("git", ["-C", baseline, "log", "-1", "--format=%h %s"], { encoding: "utf8" }).trim();
  return `dvcr baseline ${path.resolve(baseline)} (${commit.slice(0, 72)})`;
}

function machineInfo(pageCacheDropped: boolean, baseline: string | undefined): MachineInfo {
  const cpus = os.cpus();
  const referenceVersion = secondRegistry(baseline);
  return {
    hostname: os.hostname(),
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: os.release(),
    node: process.version,
    reference: referenceVersion,
    pageCacheDropped,
  };
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function main(argv: string[]): Promise<void> {
  const options = parseOptions(argv);
  if (!options) return;
  const { quick, pairs, sizes } = options;
  const workDir = options.work ?? mkdtempSync(path.join(os.tmpdir(), "dvcr-bench-"));
  mkdirSync(workDir, { recursive: true });
  const drop = !quick && canDropPageCache();
  if (!quick && !drop) log("not root: the page cache is NOT dropped between runs, expect noisier numbers");
  try {
    log(`fixtures in ${workDir}: ${sizes.blobBytes} random bytes, a qcow2 of them in an OCI layout`);
    const raw = path.join(workDir, "blob.bin");
    await writeRandomFile(raw, sizes.blobBytes);
    const blob = await blobFile(raw);
    const layoutDir = path.join(workDir, "layout");
    const disk = await writeDiskImageLayout(layoutDir, raw);
    const plan: BenchPlan = {
      blob,
      disk,
      sizes,
      load: { connections: 32, threads: 2, seconds: quick ? 1 : 5, workDir },
      tagCount: 32,
      workDir,
      cache: new CachePolicy(drop),
    };

    const definitions: FigureDefinition[] = [
      pushMonolithicFigure(sizes),
      pushChunkedFigure(sizes),
      pullFigure(sizes),
      rangeGetFigure(sizes),
      ...underLoadFigures(plan.load),
      ...peakRssFigures(sizes),
      ...skopeoFigures(sizes),
      ...memoryFigures(plan.load.connections),
    ];
    const phases = PHASES.filter((p) => !options.only || options.only.includes(p.name));
    const limitSamples: MachineLimits[] = [];
    const dvcr: Samples[] = [];
    const reference: Samples[] = [];
    const second = options.baseline === undefined ? referenceLauncher : baselineLauncher(options.baseline);
    if (options.baseline !== undefined) log(`baseline: ${secondRegistry(options.baseline)} in the reference's place`);
    for (let pair = 0; pair < pairs; pair++) {
      log(`pair ${pair + 1}/${pairs}: machine limits`);
      limitSamples.push(await measureMachineLimits(blob, workDir, plan.cache));
      const d: Samples = {};
      const r: Samples = {};
      for (const phase of phases) {
        for (const [launcher, samples] of [
          [dvcrLauncher, d],
          [second, r],
        ] as const) {
          log(`pair ${pair + 1}/${pairs}: ${phase.name} phase, ${launcher.kind}`);
          try {
            Object.assign(samples, await phase.run(launcher, plan, `${launcher.kind}-${phase.name}`));
          } catch (err) {
            throw new Error(`pair ${pair + 1}, ${phase.name} phase, ${launcher.kind}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
          }
        }
      }
      dvcr.push(d);
      reference.push(r);
    }

    const limits = Object.fromEntries(
      (Object.keys(limitSamples[0]!) as (keyof MachineLimits)[]).map((k) => [k, summarize(limitSamples.map((l) => l[k]))]),
    ) as BenchResults["limits"];
    const results: BenchResults = {
      schema: 1,
      date: new Date().toISOString(),
      quick,
      pairs,
      sizes: { ...sizes, diskLayerBytes: disk.layerBytes },
      load: { connections: plan.load.connections, threads: plan.load.threads, seconds: plan.load.seconds },
      machine: machineInfo(drop, options.baseline),
      against: options.baseline === undefined ? "reference" : "baseline",
      limits,
      // Only the figures the phases run measured (all of them without --only).
      figures: buildFigureResults(definitions.filter((d) => d.id in dvcr[0]!), dvcr, reference, limits, !quick && options.baseline === undefined),
    };
    mkdirSync(path.dirname(options.out), { recursive: true });
    writeFileSync(options.out, JSON.stringify(results, null, 2) + "\n");
    process.stdout.write(renderTable(results));
    log(`results written to ${options.out}`);
  } finally {
    if (options.work === undefined) rmSync(workDir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
