import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { TestClient } from "../helpers/client.js";
import { checkStorageInvariants } from "../helpers/invariants.js";
import { assertSessionResumes, slowPatch } from "../helpers/resume.js";
import { startChildServer, tempDir, type ChildServer } from "../helpers/server.js";

/**
 * Graceful shutdown of `dvcr serve` as a real process: SIGTERM stops new connections, lets
 * requests in flight finish up to `shutdown.grace`, cuts the rest without damaging storage,
 * closes the metadata and exits 0.
 */

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function withGrace(root: string, grace: string): string[] {
  const file = path.join(root, "..", `${path.basename(root)}-config.yml`);
  writeFileSync(file, `shutdown: {grace: ${grace}}\nlog: {level: info}\n`);
  return ["--config", file];
}

async function exitOf(server: ChildServer): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  const code = await server.exited;
  return { code, ms: Date.now() - started };
}

describe("graceful shutdown (SIGTERM to a dvcr serve process)", () => {
  test("a request in flight finishes, new connections are refused, idle keep-alive connections do not hold the exit", async () => {
    const root = tempDir();
    let server: ChildServer | undefined;
    try {
      server = await startChildServer(root, withGrace(root, "20s"));
      const client = new TestClient(server.url);
      const location = await client.startUpload("shutdown/finish");
      // An idle keep-alive connection (fetch keeps its socket open after this).
      assert.equal((await client.fetch("/v2/")).status, 200);
      const total = 8 * 1024 * 1024;
      const hash = createHash("sha256");
      const upload = slowPatch(client.url(location), total, 40, { declareLength: true, hash });
      await until(() => upload.sent() >= 2 * 1024 * 1024, "the upload to be under way");
      const exit = exitOf(server);
      server.process.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 300));
      await assert.rejects(fetch(`${server.url}/v2/`), "no new connections once SIGTERM arrived");
      assert.ok(upload.sent() < total, "SIGTERM landed mid-upload");
      const result = await upload.done;
      assert.ok(!(result instanceof Error), `the upload in flight finished: ${result}`);
      assert.equal(result.status, 202);
      assert.equal(result.range, `0-${total - 1}`);
      const { code, ms } = await exit;
      assert.equal(code, 0);
      // It exits when the last request ends, not at the end of the 20 s grace period.
      assert.ok(ms < 10_000, `exited ${ms} ms after SIGTERM`);

      // Metadata closed cleanly: a new process opens the root and completes the session.
      server = await startChildServer(root);
      const again = new TestClient(server.url);
      const digest = `sha256:${hash.digest("hex")}`;
      const res = await again.fetch(`${location}?digest=${digest}`, { method: "PUT" });
      assert.equal(res.status, 201, await res.text());
      assert.deepEqual(await checkStorageInvariants(root), []);
    } finally {
      await server?.kill("SIGKILL");
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("a request still running at the end of the grace period is cut: exit 0, and the session resumes after a restart", async () => {
    const root = tempDir();
    let server: ChildServer | undefined;
    try {
      server = await startChildServer(root, withGrace(root, "1s"));
      let client = new TestClient(server.url);
      const location = await client.startUpload("shutdown/cut");
      const first = randomBytes(1_000_000);
      let res = await client.fetch(location, { method: "PATCH", body: first, headers: { "Content-Range": "0-999999" } });
      assert.equal(res.status, 202);
      // A streamed PATCH far too long for the grace period, and a monolithic push like it.
      const upload = slowPatch(client.url(location), 1024 * 1024 * 1024, 20, { declareLength: false });
      const monolithic = slowPatch(client.url(`${await client.startUpload("shutdown/cut")}`), 1024 * 1024 * 1024, 20, { declareLength: true });
      await until(() => upload.sent() >= 4 * 1024 * 1024 && monolithic.sent() >= 4 * 1024 * 1024, "the uploads to be under way");
      const exit = exitOf(server);
      server.process.kill("SIGTERM");
      const { code, ms } = await exit;
      assert.equal(code, 0);
      assert.ok(ms >= 900, `the grace period was given (${ms} ms)`);
      assert.ok(ms < 8_000, `exited ${ms} ms after SIGTERM, soon after the 1 s grace period`);
      assert.ok((await upload.done) instanceof Error, "the cut upload was not acknowledged");
      assert.ok((await monolithic.done) instanceof Error);

      server = await startChildServer(root);
      client = new TestClient(server.url);
      assert.deepEqual(await checkStorageInvariants(root), []);
      // The cut chunk was rolled back: the session resumes after its last acknowledged byte.
      await assertSessionResumes(client, "shutdown/cut", location, first);
    } finally {
      await server?.kill("SIGKILL");
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("a second SIGTERM ends the grace period at once", async () => {
    const root = tempDir();
    let server: ChildServer | undefined;
    try {
      server = await startChildServer(root, withGrace(root, "60s"));
      const client = new TestClient(server.url);
      const upload = slowPatch(client.url(await client.startUpload("shutdown/twice")), 1024 * 1024 * 1024, 20, { declareLength: false });
      await until(() => upload.sent() >= 2 * 1024 * 1024, "the upload to be under way");
      const exit = exitOf(server);
      server.process.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(server.process.exitCode, null, "still draining after the first SIGTERM");
      server.process.kill("SIGTERM");
      const { code, ms } = await exit;
      assert.equal(code, 0);
      assert.ok(ms < 8_000, `exited ${ms} ms after the first SIGTERM`);
      assert.ok((await upload.done) instanceof Error);
    } finally {
      await server?.kill("SIGKILL");
      rmSync(root, { recursive: true, force: true });
    }
  });
});
