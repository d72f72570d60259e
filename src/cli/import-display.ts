import cliProgress from "cli-progress";
import { binaryScale } from "../config/units.js";
import type { ImportProgress, ImportResult } from "../importer/index.js";

export type ProgressMode = "auto" | "json" | "none" | "bar";

export interface ProgressDisplay {
  update(p: ImportProgress): void;
  done(result: ImportResult): void;
  failed(message: string): void;
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  const { value, power } = binaryScale(n, units.length - 1);
  return `${value.toFixed(power === 0 ? 0 : 1)} ${units[power]}`;
}

/** `--progress json`: one JSON object a line on stdout, the result last. */
function jsonDisplay(): ProgressDisplay {
  const line = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
  return {
    update: (p) => line({ event: "progress", ...p }),
    done: (result) => line({ event: "done", ...result }),
    failed: (message) => line({ event: "failed", message }),
  };
}

/** A terminal's progress bar (cli-progress, on stderr): percent, bytes, rate, ETA. */
function barDisplay(): ProgressDisplay {
  const bar = new cliProgress.SingleBar(
    {
      format: "{bar} {percentage}% | {done} / {size} | {rate}/s | ETA {eta_formatted}",
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const payload = (p: ImportProgress) => ({ done: formatBytes(p.bytes), size: p.totalBytes ? formatBytes(p.totalBytes) : "?", rate: formatBytes(p.currentSpeed) });
  return {
    update(p) {
      const total = p.totalBytes ?? Math.max(p.bytes, 1);
      if (!started) bar.start(total, p.bytes, payload(p));
      started = true;
      bar.setTotal(total);
      bar.update(p.bytes, payload(p));
    },
    done(result) {
      if (started) bar.stop();
      process.stderr.write(
        `imported ${result.sourceImageFormat} disk (${formatBytes(result.sourceImageSize)}, virtual ${formatBytes(result.sourceImageVirtualSize)}) in ${(result.durationMs / 1000).toFixed(1)} s at ${formatBytes(result.averageSpeed)}/s: ${result.manifestDigest}\n`,
      );
    },
    failed() {
      if (started) bar.stop();
    },
  };
}

function quietDisplay(): ProgressDisplay {
  return {
    update: () => undefined,
    done: (result) => process.stdout.write(`${result.manifestDigest}\n`),
    failed: () => undefined,
  };
}

export function progressDisplay(mode: ProgressMode): ProgressDisplay {
  if (mode === "json") return jsonDisplay();
  if (mode === "bar" || (mode === "auto" && process.stderr.isTTY)) return barDisplay();
  return quietDisplay();
}
