import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { describe, test } from "node:test";
import { TestClient } from "../helpers/client.js";
import { peakRssBytes } from "../helpers/proc.js";
import { startChildServer, tempDir } from "../helpers/server.js";

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

/** 2 GiB of non-repeating-looking data generated on the fly (the test itself must not buffer it). */
function generated(total: number, hash: ReturnType<typeof createHash>): ReadableStream<Uint8Array> {
  const block = randomBytes(4 * MiB);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const piece = Buffer.from(block.subarray(0, Math.min(block.length, total - sent)));
      piece.writeUInt32BE(sent / block.length, 0); // every block differs
      hash.update(piece);
      sent += piece.length;
      controller.enqueue(new Uint8Array(piece));
    },
  });
}

describe("memory stays flat whatever the blob size", () => {
  test("push and pull of a 2 GiB blob keep the server's peak RSS (VmHWM) under 200 MiB", async () => {
    const root = tempDir();
    const server = await startChildServer(root);
    try {
      const client = new TestClient(server.url);
      const hash = createHash("sha256");
      const location = await client.startUpload("mem/big");
      let res = await client.fetch(location, { method: "PATCH", body: generated(2 * GiB, hash) });
      assert.equal(res.status, 202);
      const digest = `sha256:${hash.digest("hex")}`;
      res = await client.fetch(`${location}?digest=${digest}`, { method: "PUT" });
      assert.equal(res.status, 201);
      const afterPush = peakRssBytes(server.pid);

      res = await client.fetch(`/v2/mem/big/blobs/${digest}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-length"), String(2 * GiB));
      const pulled = createHash("sha256");
      let bytes = 0;
      for await (const chunk of res.body!) {
        pulled.update(chunk);
        bytes += chunk.length;
      }
      assert.equal(bytes, 2 * GiB);
      assert.equal(`sha256:${pulled.digest("hex")}`, digest);
      const afterPull = peakRssBytes(server.pid);
      process.stdout.write(`# server VmHWM after 2 GiB push: ${(afterPush / MiB).toFixed(1)} MiB, after pull: ${(afterPull / MiB).toFixed(1)} MiB\n`);
      assert.ok(afterPush < 200 * MiB, `peak RSS during push ${afterPush / MiB} MiB`);
      assert.ok(afterPull < 200 * MiB, `peak RSS during pull ${afterPull / MiB} MiB`);
    } finally {
      await server.kill();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
