import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { timed } from "../timing.js";

const run = promisify(execFile);

/** The compiled dvcr CLI (the bench runs from dist/bench/). */
const DVCR_CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");

export interface ImporterRun {
  seconds: number;
  /** VmHWM of the `dvcr import` process, in bytes (its last reading before it exited). */
  peakRssBytes: number;
}

function vmHwm(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // exited between two polls
  }
}

/**
 * `dvcr import SOURCE --to DEST` as its own process, timed, its peak RSS polled every 50 ms. The
 * CLI as a program, as users and the container (`ENTRYPOINT ["dvcr"]`) run it: its shebang sets
 * V8's heap flags, as for the servers (servers.ts).
 */
export async function runDvcrImport(source: string, to: string, extra: string[] = []): Promise<ImporterRun> {
  const started = process.hrtime.bigint();
  const child = spawn(DVCR_CLI, ["import", source, "--to", to, "--progress", "none", ...extra], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  let peak = 0;
  const poll = setInterval(() => (peak = Math.max(peak, vmHwm(child.pid!))), 50);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearInterval(poll);
  if (code !== 0) throw new Error(`dvcr import ${source} failed (${code}): ${stderr}`);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, peakRssBytes: peak };
}

/** The baseline for an HTTP import: download, decompress (multi-threaded, as we do), hash. */
export function measurePipeline(url: string, out: string): Promise<number> {
  return timed(() => run("bash", ["-o", "pipefail", "-c", `curl -sf ${JSON.stringify(url)} | xz -dc -T0 | sha256sum > ${JSON.stringify(out)}`]));
}

/** `skopeo copy` of the image from one registry into another, layers as they are. */
export function measureSkopeoCopy(from: string, to: string): Promise<number> {
  return timed(() => run("skopeo", ["copy", "--quiet", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false", from, to]));
}
