import type { FigureDefinition, Samples, Target } from "./figure.js";
import type { MachineLimits } from "./figures/machine-limits.js";
import { pairRatios, summarize, type Summary } from "./stats.js";

export interface TargetResult {
  description: string;
  met: boolean;
  /** The number the target was judged on. */
  value: number;
}

export interface FigureResult extends FigureDefinition {
  dvcr: Summary;
  reference: Summary;
  /** dvcr ÷ reference, pair by pair. */
  ratio: Summary;
  /** Judged only in a full run (--quick has none). */
  results: TargetResult[];
}

export interface MachineInfo {
  hostname: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  reference: string;
  pageCacheDropped: boolean;
}

export interface BenchResults {
  schema: 1;
  date: string;
  quick: boolean;
  pairs: number;
  sizes: { blobBytes: number; chunkBytes: number; rangeBytes: number; diskLayerBytes: number };
  load: { connections: number; threads: number; seconds: number };
  machine: MachineInfo;
  /** What the second registry of each pair is (absent in older results: the reference). */
  against?: "reference" | "baseline";
  /** MB/s, summarized over the pairs. */
  limits: Record<keyof MachineLimits, Summary>;
  figures: FigureResult[];
}

function judge(target: Target, dvcr: Summary, ratio: Summary, limits: BenchResults["limits"]): TargetResult {
  switch (target.kind) {
    case "ratio": {
      const parts = [target.atLeast !== undefined ? `≥ ${target.atLeast}×` : "", target.atMost !== undefined ? `≤ ${target.atMost}×` : ""];
      const met = (target.atLeast === undefined || ratio.median >= target.atLeast) && (target.atMost === undefined || ratio.median <= target.atMost);
      return { description: `median ratio ${parts.filter(Boolean).join(" and ")} the reference`, met, value: ratio.median };
    }
    case "peak":
      return { description: `dvcr's highest peak ≤ ${target.atMost}`, met: dvcr.max <= target.atMost, value: dvcr.max };
    case "limit": {
      const fraction = dvcr.median / limits[target.limit].median;
      return {
        description: `dvcr ≥ ${Math.round(target.fractionAtLeast * 100)} % of the ${target.limit} limit`,
        met: fraction >= target.fractionAtLeast,
        value: fraction,
      };
    }
  }
}

export function buildFigureResults(
  definitions: FigureDefinition[],
  dvcr: Samples[],
  reference: Samples[],
  limits: BenchResults["limits"],
  judgeTargets: boolean,
): FigureResult[] {
  return definitions.map((def) => {
    const pick = (samples: Samples[]) =>
      samples.map((s) => {
        const v = s[def.id];
        if (v === undefined || !Number.isFinite(v)) throw new Error(`figure ${def.id} has no sample`);
        return v;
      });
    const d = summarize(pick(dvcr));
    const r = summarize(pick(reference));
    const ratio = summarize(pairRatios(d.samples, r.samples));
    return { ...def, dvcr: d, reference: r, ratio, results: judgeTargets ? def.targets.map((t) => judge(t, d, ratio, limits)) : [] };
  });
}

function num(value: number): string {
  if (value >= 1000) return Math.round(value).toLocaleString("en-US");
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function verdict(f: FigureResult): string {
  if (f.results.length === 0) return "";
  return f.results.map((r) => `${r.met ? "met" : "NOT met"} (${r.description}: ${num(r.value)})`).join("; ");
}

/** The results as a Markdown table (stdout and the README's Performance section). */
export function renderTable(results: BenchResults): string {
  const other = results.against ?? "reference";
  const lines = [
    `dvcr vs ${other === "reference" ? "the reference registry" : "another build"} (${results.machine.reference}), ${results.pairs} alternating pair(s), ${results.date}`,
    `machine: ${results.machine.cpu}, ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, Linux ${results.machine.kernel}, Node ${results.machine.node}; page cache ${results.machine.pageCacheDropped ? "dropped before every transfer" : "NOT dropped"}`,
    "",
    `| figure | unit | dvcr median (min–max) | ${other} median (min–max) | dvcr ÷ ${other}, median (min–max) | target |`,
    "|---|---|---|---|---|---|",
  ];
  for (const f of results.figures) {
    const span = (s: Summary) => `${num(s.median)} (${num(s.min)}–${num(s.max)})`;
    lines.push(`| ${f.title} | ${f.unit} | ${span(f.dvcr)} | ${span(f.reference)} | ${span(f.ratio)} | ${verdict(f)} |`);
  }
  lines.push("", "Machine limits (MB/s, median of the pairs):", "", "| limit | median (min–max) |", "|---|---|");
  const names: Record<keyof MachineLimits, string> = {
    sha256: "`openssl dgst -sha256` of the blob",
    fsyncWrite: "write of the blob with fsync (`dd conv=fsync`)",
    directWrite: "write of the blob with O_DIRECT and fsync (`dd oflag=direct conv=fsync`)",
    loopbackHttp: "loopback HTTP PUT to a server that discards the body",
    hashAndFsync: "sha256 + the faster fsync'd write, overlapped (the slower of the two)",
  };
  for (const key of Object.keys(names) as (keyof MachineLimits)[]) {
    const s = results.limits[key];
    lines.push(`| ${names[key]} | ${num(s.median)} (${num(s.min)}–${num(s.max)}) |`);
  }
  return lines.join("\n") + "\n";
}
