import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { createAuthFixture, selfSignedCertificate, type AuthFixture } from "../helpers/auth.js";
import { CLI, startTestServer, tempDir, type TestServer } from "../helpers/server.js";

/** Run the CLI without blocking the in-process server it talks to. */
function dvcr(args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean: NodeJS.ProcessEnv = { ...process.env, DVCR_LOG_LEVEL: "warn" };
    delete clean.DVCR_CREDENTIALS;
    delete clean.DVCR_ADMIN_CREDENTIALS;
    execFile(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...clean, ...env } }, (err, stdout, stderr) => {
      resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** One line on stderr, prefixed dvcr:, and no stack frames. */
function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got: ${stderr}`);
  assert.match(lines[0]!, /^dvcr: /);
  assert.doesNotMatch(stderr, /\n\s+at /);
  assert.match(lines[0]!, pattern);
}

describe("--url commands: TLS options, one credentials variable, one-line failures", () => {
  let fx: AuthFixture;
  let server: TestServer;
  let caFile: string;
  before(async () => {
    fx = createAuthFixture();
    const { cert, key } = selfSignedCertificate(fx.dir, "dvcr-test");
    caFile = cert;
    server = await startTestServer({ auth: fx.auth, tls: { cert, key } });
  });
  after(() => server.dispose());

  const admin = () => `${fx.admin.username}:${fx.admin.password}`;

  test("https with a private CA: refused without --cacert (one line), accepted with it or with --insecure", async () => {
    const untrusted = await dvcr(["gc", "--url", server.url, "--dry-run"], { DVCR_CREDENTIALS: admin() });
    assert.equal(untrusted.status, 1);
    assertOneLine(untrusted.stderr, /cannot reach https:\/\/127\.0\.0\.1:\d+: .*certificate/i);
    const trusted = await dvcr(["gc", "--url", server.url, "--dry-run", "--cacert", caFile], { DVCR_CREDENTIALS: admin() });
    assert.equal(trusted.status, 0, trusted.stderr);
    assert.equal(JSON.parse(trusted.stdout).dryRun, true);
    const insecure = await dvcr(["scrub", "--url", server.url, "--insecure"], { DVCR_CREDENTIALS: admin() });
    assert.equal(insecure.status, 0, insecure.stderr);
    assert.ok(Array.isArray(JSON.parse(insecure.stdout).corrupt));
  });

  test("DVCR_CREDENTIALS for every --url command; the old DVCR_ADMIN_CREDENTIALS still works", async () => {
    const none = await dvcr(["gc", "--url", server.url, "--dry-run", "--cacert", caFile]);
    assert.equal(none.status, 1);
    assertOneLine(none.stderr, /answered 401 .*set DVCR_CREDENTIALS/);
    const old = await dvcr(["gc", "--url", server.url, "--dry-run", "--cacert", caFile], { DVCR_ADMIN_CREDENTIALS: admin() });
    assert.equal(old.status, 0, old.stderr);
    // inspect reads the same variable: the image is unknown (404), so authentication passed.
    const inspect = await dvcr(["inspect", "cvi/none:latest", "--url", server.url, "--cacert", caFile], { DVCR_CREDENTIALS: admin() });
    assert.equal(inspect.status, 1);
    assertOneLine(inspect.stderr, /answered 404 .*NAME_UNKNOWN|answered 404 .*MANIFEST_UNKNOWN/);
  });

  test("an unreachable --url, a bad --cacert and start-up failures are one clear line", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    assertOneLine((await dvcr(["gc", "--url", `http://127.0.0.1:${port}`])).stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    assertOneLine((await dvcr(["gc", "--url", server.url, "--cacert", "/no/such/ca.pem"])).stderr, /--cacert \/no\/such\/ca\.pem: .*no such file/i);
    assertOneLine((await dvcr(["gc", "--root", tempDir(), "--insecure"])).stderr, /--cacert and --insecure go with --url/);
    // The port the test server holds: EADDRINUSE, said in one line.
    const busy = await dvcr(["serve", "--listen", new URL(server.url).host, "--root", tempDir()]);
    assert.equal(busy.status, 1);
    assertOneLine(busy.stderr, /EADDRINUSE/);
    const file = path.join(tempDir(), "dvcr.yaml");
    writeFileSync(file, "tsl: {cert: a, key: b}\n");
    const typo = await dvcr(["serve", "--config", file]);
    assert.equal(typo.status, 1);
    assertOneLine(typo.stderr, /tsl: unknown key \(did you mean tls\?\)/);
  });
});
