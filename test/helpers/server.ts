import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_CONFIG, type Config } from "../../src/config/config.js";
import { createLogger } from "../../src/http/logger.js";
import type { OpenOptions } from "../../src/assembly/open-registry.js";
import { startServer, type RunningServer } from "../../src/http/server.js";

export interface TestServer extends RunningServer {
  root: string;
  /** Stop the server and delete its data root. */
  dispose(): Promise<void>;
}

export function tempDir(prefix = "dvcr-test-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A real registry listening on 127.0.0.1 with a free port and a fresh data root. */
export async function startTestServer(overrides: Partial<Config> = {}, root = tempDir(), options: OpenOptions = {}): Promise<TestServer> {
  const config: Config = { ...DEFAULT_CONFIG, listen: "127.0.0.1:0", root, log: { level: (process.env.DVCR_TEST_LOG ?? "silent") as Config["log"]["level"] }, ...overrides };
  const running = await startServer(config, createLogger(config.log.level), options);
  return {
    ...running,
    root,
    async dispose() {
      await running.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The compiled CLI entry point (tests run from dist/test/...). */
export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");

export interface ChildServer {
  url: string;
  process: ChildProcess;
  pid: number;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Run `dvcr serve` as a separate process (for crash and memory tests) and wait until it listens. */
export async function startChildServer(root: string, extraArgs: string[] = [], opts: { descriptorLimit?: number } = {}): Promise<ChildServer> {
  const args = [CLI, "serve", "--listen", "127.0.0.1:0", "--root", root, ...extraArgs];
  // A descriptor limit for the child alone (`ulimit -n`), as a small container's would be.
  const child = opts.descriptorLimit
    ? spawn("sh", ["-c", `ulimit -n ${opts.descriptorLimit} && exec "$@"`, "sh", process.execPath, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    : spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    let stderr = "";
    const timer = setTimeout(() => {
      // Kill it: a child left running keeps the test file's process (and the whole run) alive.
      child.kill("SIGKILL");
      reject(new Error(`dvcr did not start: ${stderr}`));
    }, 15_000);
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      buffered += d.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(buffered);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`dvcr exited with ${code}: ${stderr}`));
    });
  });
  child.stdout!.resume();
  return {
    url,
    process: child,
    pid: child.pid!,
    exited,
    async kill(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
