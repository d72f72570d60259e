import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { REFERENCE_REGISTRY_GAPS } from "../../conformance/known-gaps.js";
import { checkName, runConformance } from "../../conformance/suite.js";

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForRegistry(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/v2/`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("docker-registry did not start");
}

/**
 * The suite is itself tested: against the CNCF reference registry 2.8 it must fail exactly the
 * known gaps of that registry (each a real deviation from the spec) and pass everything else.
 */
test("conformance suite against the reference registry fails exactly its known gaps", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-ref-"));
  const port = await freePort();
  const config = path.join(dir, "config.yml");
  writeFileSync(
    config,
    `version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: ${dir}/data}\n  delete: {enabled: true}\nhttp: {addr: 127.0.0.1:${port}}\n`,
  );
  const registry = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
  const spawnError = new Promise<never>((_, reject) => registry.once("error", reject));
  try {
    const url = `http://127.0.0.1:${port}`;
    await Promise.race([waitForRegistry(url), spawnError]);
    const { results } = await runConformance({ url });
    const failed = results.filter((r) => !r.ok).map(checkName).sort();
    assert.ok(results.length >= 60, `only ${results.length} checks ran`);
    assert.deepEqual(failed, Object.keys(REFERENCE_REGISTRY_GAPS).sort());
  } finally {
    registry.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
