import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Download {
  status: number;
  bytes: number;
  /** curl's own transfer time (its process start-up is not counted). */
  seconds: number;
}

/**
 * GET a URL into /dev/null with curl: a C client reading straight into the void, so a pull is
 * limited by the registry, not by the benchmark.
 */
export async function download(url: string, headers: Record<string, string> = {}): Promise<Download> {
  const args = ["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}"];
  for (const [name, value] of Object.entries(headers)) args.push("-H", `${name}: ${value}`);
  args.push(url);
  const { stdout } = await run("curl", args);
  const [status, bytes, seconds] = stdout.trim().split(" ").map(Number);
  return { status: status!, bytes: bytes!, seconds: seconds! };
}

export async function downloadExpecting(url: string, status: number, bytes: number, headers: Record<string, string> = {}): Promise<Download> {
  const got = await download(url, headers);
  if (got.status !== status || got.bytes !== bytes) {
    throw new Error(`GET ${url}: expected ${status} with ${bytes} bytes, got ${got.status} with ${got.bytes}`);
  }
  return got;
}
