import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface LoadOptions {
  method: "GET" | "HEAD";
  url: string;
  headers?: Record<string, string>;
  connections: number;
  threads: number;
  seconds: number;
  /** Where the Lua script is written. */
  workDir: string;
}

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
}

/**
 * wrk's Lua hooks: the method and headers of every request, and a done() that prints the summary
 * as one JSON line (wrk's own text report has no stable format to parse).
 */
function script(method: string, headers: Record<string, string>): string {
  const lines = [`wrk.method = ${JSON.stringify(method)}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`);
  lines.push(
    "done = function(summary, latency, requests)",
    "  local e = summary.errors",
    '  io.write(string.format(\'WRK_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' +
      '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n\',',
    "    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),",
    "    e.connect, e.read, e.write, e.status, e.timeout))",
    "end",
  );
  return lines.join("\n") + "\n";
}

interface WrkSummary {
  requests: number;
  duration_us: number;
  p50_us: number;
  p99_us: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
}

/** Requests per second and latency of one URL under `connections` concurrent keep-alive connections. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const file = path.join(opts.workDir, `wrk-${opts.method.toLowerCase()}-${process.pid}.lua`);
  writeFileSync(file, script(opts.method, opts.headers ?? {}));
  const args = ["-t", String(opts.threads), "-c", String(opts.connections), "-d", `${opts.seconds}s`, "--timeout", "10s", "-s", file, opts.url];
  const { stdout } = await run("wrk", args, { maxBuffer: 1024 * 1024 });
  const m = /^WRK_RESULT (\{.*\})$/m.exec(stdout);
  if (!m) throw new Error(`wrk printed no result:\n${stdout}`);
  const s = JSON.parse(m[1]!) as WrkSummary;
  // A registry answering errors fast would look good: every response must be a success.
  const errors = s.connect + s.read + s.write + s.status + s.timeout;
  if (errors > 0 || s.requests === 0) {
    throw new Error(`wrk ${opts.method} ${opts.url}: ${s.requests} requests, errors ${JSON.stringify(s)}`);
  }
  return { rps: s.requests / (s.duration_us / 1e6), p50Ms: s.p50_us / 1000, p99Ms: s.p99_us / 1000, requests: s.requests };
}
