import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import type { Config } from "../../src/config/config.js";
import { checkName, runConformance } from "../../conformance/suite.js";
import { createAuthFixture } from "../helpers/auth.js";
import { startTestServer } from "../helpers/server.js";

async function conformsWith(config: Partial<Config>, credentials?: { user: string; password: string }, expectedFailures: string[] = []): Promise<void> {
  const server = await startTestServer(config);
  try {
    const { results } = await runConformance({ url: server.url, credentials });
    const failed = results.filter((r) => !r.ok).map((r) => `${checkName(r)} — ${r.reason}`);
    assert.ok(results.length >= 60, `only ${results.length} checks ran`);
    assert.deepEqual(failed, expectedFailures);
  } finally {
    await server.dispose();
  }
}

test("dvcr passes every check of our Distribution-spec v1.1 conformance suite (open registry)", async () => {
  await conformsWith({});
});

test("dvcr passes every check with Basic auth and with the Docker token flow", async () => {
  const fx = createAuthFixture();
  try {
    const admin = { user: fx.admin.username, password: fx.admin.password };
    await conformsWith({ auth: fx.auth }, admin);
    // A token is scoped to the repository it was asked for: it does not let the caller read
    // other repositories, so a mount without `from` must fall back to an upload (202), as the
    // spec allows. With `from`, the client asks for pull on the source and the mount happens.
    await conformsWith({ auth: { ...fx.auth, token: {} } }, admin, [
      "push: automatic mount without from returns 201 — expected status 201, got 202",
    ]);
  } finally {
    rmSync(fx.dir, { recursive: true, force: true });
  }
});
