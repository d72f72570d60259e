import { spawn, type ChildProcess } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { freePort } from "../../bench/servers.js";
import { htpasswdLine } from "./auth.js";
import { tempDir } from "./server.js";

export interface ReferenceRegistry {
  url: string;
  host: string;
  /** Its storage root (`docker/registry/v2/blobs/sha256/<ab>/<hex>/data` holds a blob). */
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * The CNCF reference registry 2.8 (Debian package docker-registry) on a free port of 127.0.0.1,
 * optionally behind htpasswd Basic auth. A missing binary is a failure, not a skip.
 */
export async function startReferenceRegistry(users?: Record<string, string>): Promise<ReferenceRegistry> {
  const dir = tempDir("dvcr-reference-");
  const port = await freePort();
  const lines = ["version: 0.1", "log: {level: error}", "storage:", `  filesystem: {rootdirectory: ${JSON.stringify(path.join(dir, "data"))}}`, "  delete: {enabled: true}", `http: {addr: "127.0.0.1:${port}"}`];
  if (users) {
    const htpasswd = path.join(dir, "htpasswd");
    writeFileSync(htpasswd, Object.entries(users).map(([u, p]) => htpasswdLine(u, p)).join(""));
    lines.push("auth:", "  htpasswd:", "    realm: reference", `    path: ${JSON.stringify(htpasswd)}`);
  }
  const config = path.join(dir, "config.yml");
  writeFileSync(config, `${lines.join("\n")}\n`);
  const child: ChildProcess = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<string>((resolve) => {
    child.once("error", (e) => resolve(`cannot run docker-registry: ${e.message}`));
    child.once("exit", (code, signal) => resolve(`exit ${code ?? signal}: ${stderr.trim()}`));
  });
  let stopped: string | undefined;
  void exited.then((why) => (stopped = why));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (stopped === undefined) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (stopped !== undefined) throw new Error(`docker-registry stopped before serving: ${stopped}`);
    const status = await fetch(`${url}/v2/`).then((r) => r.status, () => 0);
    if (status === 200 || status === 401) return { url, host: `127.0.0.1:${port}`, dataDir: path.join(dir, "data"), stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error("docker-registry did not answer GET /v2/ within 15 s");
}
