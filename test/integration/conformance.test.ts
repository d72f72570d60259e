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
    // With tokens, the automatic mount check asks for pull on the source in its token (a token
    // grants only what it names; without that scope the registry may not look there: 202).
    await conformsWith({ auth: { ...fx.auth, token: {} } }, admin);
  } finally {
    rmSync(fx.dir, { recursive: true, force: true });
  }
});
