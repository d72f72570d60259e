import assert from "node:assert/strict";
import { readdirSync, readlinkSync, truncateSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { randomBlob, sha256, TestClient } from "../helpers/client.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const MiB = 1024 * 1024;

function blobPath(root: string, digest: string): string {
  const hex = digest.slice("sha256:".length);
  return path.join(root, "blobs", "sha256", hex.slice(0, 2), hex);
}

/** How many descriptors this process (the in-process server) holds on `file`. */
function openDescriptors(file: string): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false; // closed meanwhile
    }
  }).length;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** GET that hangs up after the first piece of body. */
function abandonedGet(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      res.once("data", () => {
        req.destroy();
        resolve();
      });
    });
    req.on("error", (err) => ((err as NodeJS.ErrnoException).code === "ECONNRESET" ? resolve() : reject(err)));
  });
}

/** Blob bodies are written block by block from reused buffers, several reads ahead (send-file.ts). */
describe("blob serving: multi-block bodies, ranges, clients that leave, damaged files", () => {
  let server: TestServer;
  let client: TestClient;
  const blob = randomBlob(20 * MiB + 123);
  before(async () => {
    server = await startTestServer();
    client = new TestClient(server.url);
    await client.pushBlob("r/serve", blob.data);
  });
  after(() => server.dispose());

  test("a blob many blocks long, and ranges that start and end inside blocks, come back byte for byte", async () => {
    const whole = await client.fetch(`/v2/r/serve/blobs/${blob.digest}`);
    assert.equal(whole.status, 200);
    assert.equal(sha256(Buffer.from(await whole.arrayBuffer())), blob.digest);
    for (const [start, end] of [
      [MiB - 1, MiB],
      [3 * MiB + 5, 17 * MiB + 3],
      [0, blob.data.length - 1],
      [blob.data.length - 10, blob.data.length - 1],
    ] as const) {
      const res = await client.fetch(`/v2/r/serve/blobs/${blob.digest}`, { headers: { Range: `bytes=${start}-${end}` } });
      assert.equal(res.status, 206);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), blob.data.subarray(start, end + 1), `${start}-${end}`);
    }
  });

  test("clients that hang up mid-body leave no open file behind, and the next pull is whole", async () => {
    const file = blobPath(server.root, blob.digest);
    for (let i = 0; i < 5; i++) await abandonedGet(`${server.url}/v2/r/serve/blobs/${blob.digest}`);
    await until(() => openDescriptors(file) === 0, "every abandoned transfer closed the blob file");
    const res = await client.fetch(`/v2/r/serve/blobs/${blob.digest}`);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), blob.digest);
  });

  test("a blob file cut short on disk ends the connection early instead of passing as complete", async () => {
    const damaged = randomBlob(3 * MiB);
    await client.pushBlob("r/serve", damaged.data);
    truncateSync(blobPath(server.root, damaged.digest), MiB);
    const res = await client.fetch(`/v2/r/serve/blobs/${damaged.digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String(3 * MiB));
    // Fewer bytes than Content-Length and a closed connection: the client knows it failed.
    await assert.rejects(res.arrayBuffer());
    await until(() => openDescriptors(blobPath(server.root, damaged.digest)) === 0, "the damaged blob's file is closed");
    const healthy = await client.fetch(`/v2/r/serve/blobs/${blob.digest}`, { headers: { Range: "bytes=0-9" } });
    assert.deepEqual(Buffer.from(await healthy.arrayBuffer()), blob.data.subarray(0, 10));
  });
});
