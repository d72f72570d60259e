import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { DEFAULT_CONFIG } from "../../src/config/config.js";
import { errorCodes, TestClient } from "../helpers/client.js";
import { headStatus, pushOwnImage } from "../helpers/images.js";
import { checkStorageInvariants } from "../helpers/invariants.js";
import { ShiftedClock } from "../helpers/clock.js";
import { HOUR, opsConfig, runGc } from "../helpers/ops.js";
import { startTestServer } from "../helpers/server.js";

describe("repository deletion and the owners' keep list", () => {
  test("DELETE /api/v1/repositories/<name> removes every tag and manifest; GC reclaims the bytes after the grace period", async () => {
    const clock = new ShiftedClock();
    const server = await startTestServer(opsConfig(), undefined, { clock });
    const client = new TestClient(server.url);
    try {
      const v1 = await pushOwnImage(client, "vi/ns/disk", "v1");
      await pushOwnImage(client, "vi/ns/disk", "v2");
      await pushOwnImage(client, "vi/ns/disk");
      const other = await pushOwnImage(client, "vi/ns/other", "latest");

      const res = await client.fetch("/api/v1/repositories/vi/ns/disk", { method: "DELETE" });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { repository: "vi/ns/disk", manifests: 3, tags: 2 });
      assert.deepEqual(await errorCodes(await client.fetch("/v2/vi/ns/disk/tags/list")), ["NAME_UNKNOWN"]);
      const catalog = (await (await client.fetch("/v2/_catalog")).json()) as { repositories: string[] };
      assert.deepEqual(catalog.repositories, ["vi/ns/other"]);
      assert.deepEqual(await errorCodes(await client.fetch("/api/v1/repositories/vi/ns/disk", { method: "DELETE" })), ["NAME_UNKNOWN"]);
      assert.deepEqual(await errorCodes(await client.fetch("/api/v1/repositories/Bad..Name", { method: "DELETE" })), ["NAME_INVALID"]);

      // An admin's delete restarts the grace clocks: a client that just saw these blobs may reuse them.
      assert.equal((await runGc(client)).blobs.deleted, 0);
      clock.advance(2 * HOUR);
      const report = await runGc(client);
      assert.equal(report.blobs.deleted, 6, "config and layer of each of the 3 manifests");
      assert.equal(await headStatus(client, "vi/ns/other", "blobs", other.blobs[1]!.digest), 200);
      assert.equal(await headStatus(client, "vi/ns/other", "blobs", v1.blobs[1]!.digest), 404);
      assert.deepEqual(await checkStorageInvariants(server.root), []);
    } finally {
      await server.dispose();
    }
  });

  test("repository deletion honours delete.enabled", async () => {
    const server = await startTestServer({ ...opsConfig(), delete: { enabled: false } });
    const client = new TestClient(server.url);
    try {
      await pushOwnImage(client, "cvi/kept", "latest");
      const res = await client.fetch("/api/v1/repositories/cvi/kept", { method: "DELETE" });
      assert.equal(res.status, 405);
      assert.deepEqual(await errorCodes(res), ["UNSUPPORTED"]);
    } finally {
      await server.dispose();
    }
  });

  test("gc with keepRepositories deletes every idle cvi/, vi/, vd/ repository not listed, and reclaims its bytes in the same run", async () => {
    const clock = new ShiftedClock();
    const server = await startTestServer(opsConfig(), undefined, { clock });
    const client = new TestClient(server.url);
    try {
      const live = await pushOwnImage(client, "cvi/ubuntu", "latest");
      const gone = await pushOwnImage(client, "cvi/deleted", "latest");
      await pushOwnImage(client, "vi/ns/gone", "latest");
      await pushOwnImage(client, "vd/ns/disk-cache", "latest");
      await pushOwnImage(client, "library/busybox", "latest");
      clock.advance(2 * HOUR);
      // Pushed just now: its owner may have been created after the keep list was taken.
      await pushOwnImage(client, "vi/ns/brand-new", "latest");
      const keepRepositories = ["cvi/ubuntu", "vi/ns/not-pushed-yet"];

      const dry = await runGc(client, { dryRun: true, keepRepositories });
      assert.deepEqual(dry.repositories.deleted, ["cvi/deleted", "vd/ns/disk-cache", "vi/ns/gone"]);
      assert.deepEqual(dry.repositories.keptRecentlyActive, ["vi/ns/brand-new"]);
      assert.equal(await headStatus(client, "cvi/deleted", "manifests", "latest"), 200, "a dry run deletes nothing");

      const report = await runGc(client, { keepRepositories });
      assert.deepEqual(report.repositories.deleted, ["cvi/deleted", "vd/ns/disk-cache", "vi/ns/gone"]);
      assert.equal(report.blobs.deleted, 6, "the blobs of the three deleted repositories, in this same run");
      assert.equal(await headStatus(client, "cvi/deleted", "blobs", gone.blobs[1]!.digest), 404);
      for (const repo of ["cvi/ubuntu", "library/busybox", "vi/ns/brand-new"]) {
        assert.equal(await headStatus(client, repo, "manifests", "latest"), 200, `${repo} is kept`);
      }
      assert.equal(await headStatus(client, "cvi/ubuntu", "blobs", live.blobs[1]!.digest), 200);
      assert.deepEqual(await checkStorageInvariants(server.root), []);
    } finally {
      await server.dispose();
    }
  });

  test("the ops API refuses malformed requests with 400 REQUEST_INVALID and reports its tasks", async () => {
    const server = await startTestServer(opsConfig());
    const client = new TestClient(server.url);
    try {
      const bad = async (route: string, body: string) => {
        const res = await client.fetch(route, { method: "POST", body, headers: { "Content-Type": "application/json" } });
        assert.equal(res.status, 400, body);
        assert.deepEqual(await errorCodes(res), ["REQUEST_INVALID"]);
      };
      await bad("/api/v1/gc", "{not json");
      await bad("/api/v1/gc", JSON.stringify({ grace: "soon" }));
      await bad("/api/v1/gc", JSON.stringify({ dryRun: "yes" }));
      await bad("/api/v1/gc", JSON.stringify({ keepRepositories: ["cvi/ok", "NOT OK"] }));
      await bad("/api/v1/gc", JSON.stringify({ unknownOption: true }));
      await bad("/api/v1/scrub", JSON.stringify({ repair: 1 }));

      await client.pushBlob("ops/tasks", randomBytes(100));
      await runGc(client, { dryRun: true });
      const { tasks } = (await (await client.fetch("/api/v1/tasks")).json()) as {
        tasks: { name: string; running: boolean; schedule: string | null; nextRun: string | null; last?: { trigger: string; result?: { dryRun: boolean } } }[];
      };
      assert.deepEqual(tasks.map((t) => [t.name, t.schedule, t.nextRun, t.running]), [
        ["gc", "off", null, false],
        ["scrub", "off", null, false],
        ["index.probe", null, null, false],
        ["index.checksum", null, null, false],
      ]);
      assert.equal(tasks[0]!.last?.trigger, "api");
      assert.equal(tasks[0]!.last?.result?.dryRun, true);
    } finally {
      await server.dispose();
    }
  });

  test("GET /api/v1/storage reports the volume and what GC would reclaim", async () => {
    const clock = new ShiftedClock();
    const server = await startTestServer(opsConfig(), undefined, { clock });
    const client = new TestClient(server.url);
    try {
      const kept = await pushOwnImage(client, "ops/storage", "v1");
      const lone = randomBytes(10_000);
      await client.pushBlob("ops/storage", lone);
      const session = await client.startUpload("ops/storage");
      assert.equal((await client.fetch(session, { method: "PATCH", body: randomBytes(3000) })).status, 202);
      clock.advance(2 * HOUR);
      const s = (await (await client.fetch("/api/v1/storage")).json()) as Record<string, number | boolean>;
      const blobBytes = kept.blobs.reduce((n, b) => n + b.size, 0) + lone.length;
      assert.equal(s.blobsBytes, blobBytes);
      assert.equal(s.blobs, 3);
      assert.deepEqual([s.uploadsBytes, s.uploadSessions], [3000, 1]);
      assert.equal(s.reclaimableBytes, lone.length, "the lone blob (the session is younger than the upload TTL)");
      assert.ok((s.capacityBytes as number) > 0 && (s.freeBytes as number) > 0 && (s.usedBytes as number) > 0);
      assert.equal(s.reserveBytes, Math.max(DEFAULT_CONFIG.storage.reserve.bytes, Math.ceil((s.capacityBytes as number) / 100)));
      assert.equal(s.full, false);
      assert.equal(s.directIo, true);
      assert.equal(s.directIoRefusal, undefined);
    } finally {
      await server.dispose();
    }
  });
});
