import { spawn } from "node:child_process";

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** Kill the command (and everything it started) after this long; e2e clients can hang on a bad registry. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly result: CommandResult,
    reason: string,
  ) {
    super(`${command}: ${reason}\n--- stderr ---\n${result.stderr.slice(-4000)}\n--- stdout ---\n${result.stdout.slice(-2000)}`);
  }
}

/**
 * Run a program to completion with its output captured. Rejects with the command line and the
 * tail of its output when it fails or times out, so a failing e2e test says what the client saw.
 */
export function runCommand(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const command = [file, ...args].join(" ");
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout also kills helpers the client started.
    const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const result: CommandResult = { stdout: "", stderr: "" };
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (result.stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (result.stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new CommandError(command, null, result, err.message));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new CommandError(command, code, result, `timed out after ${timeoutMs} ms`));
      else if (code !== 0) reject(new CommandError(command, code, result, `exited with ${code ?? signal}`));
      else resolve(result);
    });
  });
}
