import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { describe, test } from "node:test";
import { errorCodes, sha256, TestClient } from "../helpers/client.js";
import { checkStorageInvariants } from "../helpers/invariants.js";
import { opsConfig } from "../helpers/ops.js";
import { pushOwnImage } from "../helpers/images.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { mountLoop, mountLoopExt4, mountTmpfs, type TestVolume } from "../helpers/volume.js";

const MiB = 1024 * 1024;
const RESERVE = 4 * MiB;

interface SpecError {
  code: string;
  message: string;
  detail?: { freeBytes: number; reserveBytes: number; capacityBytes: number; neededBytes?: number };
}

async function specError(res: Response): Promise<SpecError> {
  const body = (await res.json()) as { errors: SpecError[] };
  assert.equal(body.errors.length, 1);
  return body.errors[0]!;
}

/** One-request push with a declared Content-Length (POST ?digest=). */
function pushMonolithic(client: TestClient, repo: string, data: Buffer): Promise<Response> {
  return client.fetch(`/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, {
    method: "POST",
    body: data,
    headers: { "Content-Type": "application/octet-stream" },
  });
}

function uploadsLeft(root: string): string[] {
  return readdirSync(path.join(root, "uploads"));
}

/**
 * A request that declares `declared` bytes but only ever sends the first 64 KiB: the answer must
 * come before the body (refused up front), not after a client sent gigabytes.
 */
function declareHuge(base: string, repo: string, declared: number): Promise<{ status: number; body: string; connection?: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method: "POST",
        path: `/v2/${repo}/blobs/uploads/?digest=${sha256("never sent")}`,
        headers: { "Content-Length": declared, "Content-Type": "application/octet-stream" },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          req.destroy();
          resolve({ status: res.statusCode!, body, connection: res.headers.connection });
        });
      },
    );
    req.on("error", reject);
    req.write(randomBytes(64 * 1024));
  });
}

/**
 * The scenario of the issue, on a real filesystem that really fills up; then room comes back
 * while the registry runs: the volume grows ("grow"), or deleted images are collected ("gc").
 */
interface Scenario {
  /** How room comes back. */
  recover: "grow" | "gc";
  /** Size of each blob that fills the volume. */
  fillBytes?: number;
  /** What the volume grows to ("grow"): at least 4 times its first size. */
  growToMiB?: number;
}

async function fullDiskScenario(volume: TestVolume, { recover, fillBytes = 4 * MiB, growToMiB = 256 }: Scenario): Promise<void> {
  let server: TestServer | undefined;
  try {
    server = await startTestServer({ ...opsConfig({ reserve: { bytes: RESERVE, percent: 0 } }) }, volume.dir);
    const client = new TestClient(server.url);

    let storage = (await (await client.fetch("/api/v1/storage")).json()) as Record<string, number | boolean>;
    const fs0 = statfsSync(volume.dir);
    assert.equal(storage.capacityBytes, fs0.blocks * fs0.bsize, "capacity is the volume's, from statfs");
    assert.equal(storage.reserveBytes, RESERVE);
    assert.equal(storage.full, false);

    const image = await pushOwnImage(client, "cap/disk", "v1", { layer: randomBytes(4 * MiB) });

    // Fill the volume with blobs until the registry says 507.
    const stored: Buffer[] = [];
    let full: Response | undefined;
    for (let i = 0; i < 64 && !full; i++) {
      const data = randomBytes(fillBytes);
      const res = await pushMonolithic(client, "cap/fill", data);
      if (res.status === 201) stored.push(data);
      else full = res;
    }
    assert.ok(full, "the volume filled up");
    assert.equal(full.status, 507);
    const error = await specError(full);
    assert.equal(error.code, "STORAGE_FULL");
    assert.match(error.message, /storage volume is full: [\d.]+ (KiB|MiB|B) free/);
    assert.ok(error.detail!.freeBytes >= 0 && error.detail!.reserveBytes === RESERVE);
    assert.deepEqual(uploadsLeft(volume.dir), [], "the partial temp file was deleted");
    const free = statfsSync(volume.dir);
    assert.ok(free.bavail * free.bsize >= RESERVE - 1.5 * MiB, "the reserve stayed (nearly) free: SQLite can still write");

    // A declared size larger than the free space: refused before the body is read.
    const huge = await declareHuge(server.url, "cap/huge", 512 * MiB);
    assert.equal(huge.status, 507);
    assert.equal(huge.connection, "close", "the connection is closed rather than drained");
    const hugeError = (JSON.parse(huge.body) as { errors: SpecError[] }).errors[0]!;
    assert.equal(hugeError.code, "STORAGE_FULL");
    assert.equal(hugeError.detail!.neededBytes, 512 * MiB);
    assert.match(hugeError.message, /needs 512\.0 MiB/);

    // A chunked PATCH (no declared size) is stopped while streaming; its session is discarded.
    const session = await client.startUpload("cap/stream");
    const streamed = await client.fetch(session, {
      method: "PATCH",
      body: new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(new Uint8Array(randomBytes(256 * 1024)));
        },
      }),
    });
    assert.equal(streamed.status, 507);
    assert.deepEqual(await errorCodes(streamed), ["STORAGE_FULL"]);
    assert.equal((await client.fetch(session)).status, 404, "the session is gone: the client starts over");
    assert.deepEqual(uploadsLeft(volume.dir), []);

    // Something else on the volume eats into the reserve: below it, not even a session starts.
    const left = statfsSync(volume.dir);
    writeFileSync(path.join(volume.dir, "filler"), Buffer.alloc(Math.max(0, left.bavail * left.bsize - RESERVE / 2)));
    const refused = await client.fetch("/v2/cap/new/blobs/uploads/", { method: "POST" });
    assert.equal(refused.status, 507, "no new sessions below the reserve");
    assert.match((await specError(refused)).message, /storage volume is full/);

    // Reads, tag lists and deletes keep working on a full volume.
    storage = (await (await client.fetch("/api/v1/storage")).json()) as Record<string, number | boolean>;
    assert.equal(storage.full, true);
    const ready = await client.fetch("/readyz");
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { mode: string }).mode, "read-only");
    assert.equal(await (await client.fetch("/v2/cap/disk/manifests/v1")).text(), image.body);
    const layer = await client.fetch(`/v2/cap/disk/blobs/${image.blobs[1]!.digest}`);
    assert.equal(sha256(Buffer.from(await layer.arrayBuffer())), image.blobs[1]!.digest);
    assert.equal((await client.fetch("/v2/cap/disk/tags/list")).status, 200);
    assert.equal((await client.fetch(`/v2/cap/fill/blobs/${sha256(stored[0]!)}`, { method: "DELETE" })).status, 202);
    assert.equal((await client.pushManifest("cap/disk", "v2", image.body, image.mediaType)).status, 201, "a small manifest still fits");
    assert.deepEqual(await checkStorageInvariants(volume.dir), [], "no blob, manifest or database page damaged");

    const retry = randomBytes(4 * MiB);
    assert.equal((await pushMonolithic(client, "cap/fill", retry)).status, 507);
    if (recover === "grow") {
      // Grow the volume online: the same push succeeds at once, no restart.
      volume.grow(growToMiB);
    } else {
      // Make room the other way: drop the filler, delete the fill repository, collect it.
      rmSync(path.join(volume.dir, "filler"));
      assert.equal((await client.fetch("/api/v1/repositories/cap/fill", { method: "DELETE" })).status, 200);
      const gc = (await (await client.fetch("/api/v1/gc", { method: "POST", body: JSON.stringify({ grace: 0 }) })).json()) as { blobs: { bytes: number } };
      assert.equal(gc.blobs.bytes, stored.length * fillBytes, "every fill blob was reclaimed");
    }
    assert.equal((await pushMonolithic(client, "cap/fill", retry)).status, 201, "the room is used at once, without restart");
    storage = (await (await client.fetch("/api/v1/storage")).json()) as Record<string, number | boolean>;
    const fs1 = statfsSync(volume.dir);
    assert.equal(storage.capacityBytes, fs1.blocks * fs1.bsize);
    if (recover === "grow") assert.ok((storage.capacityBytes as number) > fs0.blocks * fs0.bsize * 3, "capacity grew");
    assert.equal(storage.full, false);
    assert.equal(((await (await client.fetch("/readyz")).json()) as { mode: string }).mode, "read-write");
    const back = await client.fetch(`/v2/cap/fill/blobs/${sha256(retry)}`);
    assert.equal(sha256(Buffer.from(await back.arrayBuffer())), sha256(retry));
    assert.deepEqual(await checkStorageInvariants(volume.dir), []);
  } finally {
    // close(), not dispose(): the data root is a mount point, unmounted by the caller.
    await server?.close();
  }
}

describe("capacity, full disk and online resize (root: real tmpfs, loop-mounted XFS and ext4)", () => {
  test("tmpfs: fill until 507, keep serving reads and deletes, grow with remount,size= and push again", async () => {
    const volume = mountTmpfs(48);
    try {
      await fullDiskScenario(volume, { recover: "grow" });
    } finally {
      volume.dispose();
    }
  });

  test("XFS on a loop device (a PVC expanded online): fill until 507, grow the block device and xfs_growfs, push again", async () => {
    const volume = mountLoop("xfs", 320);
    try {
      await fullDiskScenario(volume, { recover: "grow", fillBytes: 16 * MiB, growToMiB: 1280 });
    } finally {
      volume.dispose();
    }
  });

  // Online ext4 growth needs CAP_SYS_RESOURCE, which this machine withholds even from root
  // (see helpers/volume.ts), so ext4 gets room back through GC instead.
  test("ext4 on a loop device: fill until 507, keep serving reads and deletes, delete + GC and push again", async () => {
    const volume = mountLoopExt4(48);
    try {
      await fullDiskScenario(volume, { recover: "gc" });
    } finally {
      volume.dispose();
    }
  });

  test("/readyz fails when the data root stops accepting writes (an immutable directory)", async () => {
    const volume = mountLoopExt4(16);
    let server: TestServer | undefined;
    try {
      server = await startTestServer(opsConfig({ reserve: { bytes: MiB, percent: 0 } }), volume.dir);
      const client = new TestClient(server.url);
      assert.equal((await client.fetch("/readyz")).status, 200);
      // Even root cannot create files in an immutable directory: what a read-only volume looks like.
      execFileSync("chattr", ["+i", volume.dir]);
      const res = await client.fetch("/readyz");
      assert.equal(res.status, 503);
      const body = (await res.json()) as { ready: boolean; checks: { root: string; database: string } };
      assert.equal(body.ready, false);
      assert.match(body.checks.root, /^EPERM/);
      assert.equal((await client.fetch("/healthz")).status, 200, "liveness does not depend on the disk");
      execFileSync("chattr", ["-i", volume.dir]);
      assert.equal((await client.fetch("/readyz")).status, 200);
    } finally {
      execFileSync("chattr", ["-i", volume.dir]);
      try {
        await server?.close();
      } finally {
        volume.dispose();
      }
    }
  });
});
