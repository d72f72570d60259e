import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** kubectl on this machine: a dispatcher that picks kubectl.1.NN from the server's /version. */
export const KUBECTL_CURRENT = "/usr/bin/kubectl";

/**
 * kubectl 1.20 from Debian's kubernetes-client (it cannot be installed beside the dispatcher, see
 * REAL-COMPONENTS): `apt-get download` + `dpkg-deb -x`, once per machine, into the temp dir.
 */
export async function kubectl120(): Promise<string> {
  const dir = path.join(os.tmpdir(), "dvcr-kubectl-1.20");
  const binary = path.join(dir, "x", "usr", "bin", "kubectl");
  if (existsSync(binary)) return binary;
  const work = mkdtempSync(path.join(os.tmpdir(), "dvcr-kubectl-dl-"));
  try {
    await run("apt-get", ["download", "kubernetes-client"], { cwd: work });
    const deb = readdirSync(work).find((f) => f.startsWith("kubernetes-client_") && f.endsWith(".deb"));
    if (!deb) throw new Error("apt-get download kubernetes-client produced no .deb");
    mkdirSync(dir, { recursive: true });
    const staging = mkdtempSync(path.join(dir, "x-"));
    await run("dpkg-deb", ["-x", path.join(work, deb), staging]);
    rmSync(path.join(dir, "x"), { recursive: true, force: true });
    await run("mv", [staging, path.join(dir, "x")]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A kubectl bound to one server, with a private HOME and discovery cache (kubectl caches discovery). */
export class Kubectl {
  readonly home: string;

  constructor(
    readonly binary: string,
    readonly server: string,
    readonly extraArgs: string[] = [],
  ) {
    this.home = mkdtempSync(path.join(os.tmpdir(), "dvcr-kubectl-home-"));
  }

  private args(args: string[]): string[] {
    return ["--server", this.server, "--cache-dir", path.join(this.home, "cache"), ...this.extraArgs, ...args];
  }

  private env(): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH, HOME: this.home };
  }

  /** Run to completion; never throws on a non-zero exit (tests assert on the code and the output). */
  run(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, this.args(args), { env: this.env(), stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
      child.stdin.end(options.input ?? "");
    });
  }

  /** Run and require exit 0; returns stdout. */
  async ok(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(args, options);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** Start a long-running kubectl (a watch); the caller stops it. */
  start(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
    const child = spawn(this.binary, this.args(args), { env: this.env(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    return { child, output: () => out, exited };
  }

  dispose(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** Poll until `check` returns a value (not undefined), or fail after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A ClusterVirtualImage manifest as users write it. */
export function cviYaml(name: string, dataSource: string, extraMetadata = ""): string {
  return `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: ClusterVirtualImage
metadata:
  name: ${name}
${extraMetadata}spec:
  dataSource:
${dataSource}`;
}
