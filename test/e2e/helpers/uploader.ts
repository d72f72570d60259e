import { spawn } from "node:child_process";
import { CLI } from "../../helpers/server.js";
import { runCommand } from "./command.js";

/** A `dvcr uploader` process, started with DVCR's uploader environment on free ports. */
export interface UploaderProcess {
  /** http://127.0.0.1:PORT/upload */
  uploadUrl: string;
  /** http://127.0.0.1:PORT/healthz */
  healthzUrl: string;
  pid: number;
  /** Exit code (null: killed by a signal). */
  exited: Promise<number | null>;
  stderr(): string;
  /** Resolves when stderr matches (the uploader logs each upload's start and end). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function spawnUploader(env: Record<string, string>): Promise<UploaderProcess> {
  const child = spawn(process.execPath, [CLI, "uploader"], {
    env: { PATH: process.env.PATH!, LISTEN_PORT: "0", HEALTHZ_PORT: "0", IMPORTER_METRICS_LISTEN: "off", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const waitForLog = async (pattern: RegExp, timeoutMs = 15_000) => {
    for (const start = Date.now(); !pattern.test(stderr); ) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`dvcr uploader exited (${child.exitCode ?? child.signalCode}) before ${pattern}: ${stderr}`);
      if (Date.now() - start > timeoutMs) throw new Error(`no ${pattern} from dvcr uploader in ${timeoutMs} ms: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await waitForLog(/listening on port \d+ .*healthz on port \d+/);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  const [, upload, healthz] = /listening on port (\d+) .*healthz on port (\d+)/.exec(stderr)!;
  return {
    uploadUrl: `http://127.0.0.1:${upload}/upload`,
    healthzUrl: `http://127.0.0.1:${healthz}/healthz`,
    pid: child.pid!,
    exited,
    stderr: () => stderr,
    waitForLog,
    async kill(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface CurlAnswer {
  status: number;
  body: string;
}

/** A request with curl (`-X METHOD`, `-T FILE`: a PUT of the file, as users upload): the status and the answer's body. */
export async function curl(url: string, args: string[] = [], timeoutMs = 120_000): Promise<CurlAnswer> {
  const { stdout } = await runCommand("curl", ["-sS", ...args, "-w", "\n%{http_code}", url], { timeoutMs });
  const newline = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(newline + 1)), body: stdout.slice(0, newline) };
}
