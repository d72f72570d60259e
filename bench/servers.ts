import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** A registry process under measurement. Each measurement phase starts a fresh one, so VmHWM is that phase's peak. */
export interface RunningRegistry {
  url: string;
  pid: number;
  /** Peak resident set size since the process started (VmHWM), in bytes. */
  peakRssBytes(): number;
  /**
   * Wait until work the server started on its own after a push is done (dvcr's disk-image index
   * reads the pushed layer), so that it does not share the CPU with the next timed figure.
   */
  idle(repository: string, tag: string): Promise<void>;
  stop(): Promise<void>;
}

/** "baseline": another build of dvcr (`npm run bench -- --baseline DIR`), in the reference's place. */
export type RegistryKind = "dvcr" | "reference" | "baseline";

export interface RegistryLauncher {
  kind: RegistryKind;
  /** Start a server over `root` (created if needed; an existing one is served as it is). */
  start(root: string): Promise<RunningRegistry>;
}

const START_TIMEOUT_MS = 20_000;

/** The compiled dvcr CLI (the bench runs from dist/bench/). */
const DVCR_CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/cli/main.js");

export function peakRssOf(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** `dvcr serve` on a free port; the URL comes from its "listening" log line. */
export const dvcrLauncher: RegistryLauncher = dvcrLauncherFor(DVCR_CLI, "dvcr");

/**
 * Another build of dvcr (a checkout with `npm ci && npm run build` done), so that a change to dvcr
 * itself is measured before and after in one run, pair by pair, like the reference.
 */
export function baselineLauncher(checkout: string): RegistryLauncher {
  return dvcrLauncherFor(path.resolve(checkout, "dist/src/cli/main.js"), "baseline");
}

function dvcrLauncherFor(cli: string, kind: RegistryKind): RegistryLauncher {
  return {
    kind,
    async start(root) {
      // The CLI as a program, as users and the container run it: its shebang sets V8's heap flags.
      const child = spawn(cli, ["serve", "--listen", "127.0.0.1:0", "--root", root, "--log-level", "info"], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        let err = "";
        const onErr = (d: Buffer) => void (err += d.toString());
        const onExit = (code: number | null) => fail(new Error(`dvcr exited with ${code} before listening: ${err}`));
        const onOut = (d: Buffer) => {
          out += d.toString();
          const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
          if (!m) return;
          settle();
          resolve(m[1]!);
        };
        const settle = () => {
          clearTimeout(timer);
          child.stdout!.off("data", onOut);
          child.stderr!.off("data", onErr);
          child.off("error", fail);
          child.off("exit", onExit);
        };
        const fail = (e: Error) => {
          settle();
          child.kill("SIGKILL");
          reject(e);
        };
        const timer = setTimeout(() => fail(new Error(`dvcr did not start within ${START_TIMEOUT_MS} ms: ${err}`)), START_TIMEOUT_MS);
        child.stderr!.on("data", onErr);
        child.stdout!.on("data", onOut);
        child.once("error", fail);
        child.once("exit", onExit);
      });
      // Keep draining its logs so a full pipe never stalls the server.
      child.stdout!.resume();
      child.stderr!.resume();
      return running(child, url, (repository, tag) => diskIndexSettled(url, repository, tag));
    },
  };
}

/** Poll dvcr's image API until the disk index has judged the image (status no longer "indexing"). */
async function diskIndexSettled(url: string, repository: string, tag: string): Promise<void> {
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/api/v1/images/${repository}?tag=${encodeURIComponent(tag)}`);
    if (res.status !== 200) throw new Error(`GET /api/v1/images/${repository}: HTTP ${res.status}`);
    const { status } = (await res.json()) as { status: string };
    if (status !== "indexing") return;
    await sleep(100);
  }
  throw new Error(`dvcr's disk index did not finish ${repository}:${tag} within 10 minutes`);
}

/**
 * The CNCF reference registry (Debian package docker-registry 2.8) with filesystem storage, as
 * its packaged configuration runs it (in-memory blob descriptor cache), on a free port.
 */
export const referenceLauncher: RegistryLauncher = {
  kind: "reference",
  async start(root) {
    const port = await freePort();
    const config = path.join(path.dirname(root), `${path.basename(root)}.registry.yml`);
    writeFileSync(
      config,
      [
        "version: 0.1",
        "log: {level: error}",
        "storage:",
        `  filesystem: {rootdirectory: ${JSON.stringify(root)}}`,
        "  cache: {blobdescriptor: inmemory}",
        "  delete: {enabled: true}",
        `http: {addr: "127.0.0.1:${port}"}`,
        "",
      ].join("\n"),
    );
    const child = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<string>((resolve) => {
      child.once("error", (e) => resolve(`cannot run docker-registry: ${e.message}`));
      child.once("exit", (code, signal) => resolve(`exit ${code ?? signal}: ${err.trim()}`));
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilServing(url, exited);
    } catch (e) {
      child.kill("SIGKILL");
      throw e;
    }
    // The reference does nothing in the background after a push.
    return running(child, url, async () => undefined);
  },
};

/** Servers still running; killed if the benchmark itself dies, so none outlives it. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function running(child: ChildProcess, url: string, idle: RunningRegistry["idle"]): RunningRegistry {
  live.add(child);
  child.once("exit", () => live.delete(child));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  return {
    url,
    pid: child.pid!,
    peakRssBytes: () => peakRssOf(child.pid!),
    idle,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const stopped = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!stopped) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}

async function waitUntilServing(url: string, exited: Promise<string>): Promise<void> {
  let stopped: string | undefined;
  void exited.then((why) => (stopped = why));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (stopped !== undefined) throw new Error(`docker-registry stopped before serving: ${stopped}`);
    try {
      if ((await fetch(`${url}/v2/`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`docker-registry did not answer GET /v2/ within ${START_TIMEOUT_MS} ms`);
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
