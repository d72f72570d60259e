import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { REFERENCE_REGISTRY_GAPS } from "../../conformance/known-gaps.js";
import { checkName, listChecks, runConformance } from "../../conformance/suite.js";

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForRegistry(url: string, exited: Promise<string>): Promise<void> {
  const deadline = Date.now() + 15_000;
  let stopped: string | undefined;
  void exited.then((why) => (stopped = why));
  while (Date.now() < deadline) {
    if (stopped !== undefined) throw new Error(`docker-registry stopped before serving: ${stopped}`);
    try {
      if ((await fetch(`${url}/v2/`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("docker-registry did not answer GET /v2/ within 15 s");
}

/**
 * The suite is itself tested: against the CNCF reference registry 2.8 (CI installs the Debian
 * package docker-registry) it must fail exactly the known gaps of that registry, each a real
 * deviation from the spec, and pass everything else.
 */
test("conformance suite against the reference registry fails exactly its known gaps", async () => {
  const known = Object.keys(REFERENCE_REGISTRY_GAPS).sort();
  const all = listChecks();
  assert.deepEqual(known.filter((name) => !all.includes(name)), [], "known gaps that name no check");

  const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-ref-"));
  const port = await freePort();
  const config = path.join(dir, "config.yml");
  writeFileSync(
    config,
    `version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: ${dir}/data}\n  delete: {enabled: true}\nhttp: {addr: 127.0.0.1:${port}}\n`,
  );
  // A missing binary is a failure, not a skip: CI installs docker-registry.
  const registry = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  registry.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<string>((resolve) => {
    registry.once("error", (err) => resolve(`cannot run docker-registry: ${err.message}`));
    registry.once("exit", (code, signal) => resolve(`exit ${code ?? signal}: ${stderr.trim()}`));
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitForRegistry(url, exited);
    const { results } = await runConformance({ url });
    assert.ok(results.length >= 60, `only ${results.length} checks ran`);
    assert.equal(results.length, all.length, "every check ran");
    const failed = results.filter((r) => !r.ok);
    const unexpected = failed.filter((r) => !known.includes(checkName(r))).map((r) => `${checkName(r)} — ${r.reason}`);
    const passed = results.filter((r) => r.ok && known.includes(checkName(r))).map(checkName);
    assert.deepEqual({ unexpectedFailures: unexpected, knownGapsThatPassed: passed }, { unexpectedFailures: [], knownGapsThatPassed: [] });
    assert.deepEqual(failed.map(checkName).sort(), known);
  } finally {
    if (registry.exitCode === null && registry.signalCode === null && registry.pid !== undefined) {
      registry.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (registry.exitCode === null && registry.signalCode === null) registry.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
