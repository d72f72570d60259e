import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { describe, test } from "node:test";
import { CLI, startChildServer, tempDir } from "../helpers/server.js";

/** `dvcr healthcheck` (the container image's HEALTHCHECK) against a real server process. */
describe("dvcr healthcheck", () => {
  test("exit 0 while the configured server answers /healthz, 1 with the reason when nothing listens", async () => {
    const root = tempDir();
    const server = await startChildServer(root);
    try {
      const listen = new URL(server.url).host;
      let run = spawnSync(process.execPath, [CLI, "healthcheck"], { env: { ...process.env, DVCR_LISTEN: listen }, encoding: "utf8" });
      assert.equal(run.status, 0, run.stderr);
      // A wildcard listen address is probed over loopback.
      run = spawnSync(process.execPath, [CLI, "healthcheck", "--listen", `0.0.0.0:${new URL(server.url).port}`], { encoding: "utf8" });
      assert.equal(run.status, 0, run.stderr);
      await server.kill();
      run = spawnSync(process.execPath, [CLI, "healthcheck", "--listen", listen], { encoding: "utf8" });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /ECONNREFUSED/);
    } finally {
      await server.kill();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
