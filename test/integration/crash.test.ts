import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { describe, test } from "node:test";
import { sha256, TestClient } from "../helpers/client.js";
import { checkStorageInvariants } from "../helpers/invariants.js";
import { assertSessionResumes } from "../helpers/resume.js";
import { startChildServer, tempDir } from "../helpers/server.js";

/** A body that streams `total` random bytes slowly enough for a kill to land mid-transfer. */
function slowBody(total: number, hash: ReturnType<typeof createHash>, sent: { bytes: number }): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async pull(controller) {
      if (sent.bytes >= total) return controller.close();
      const piece = randomBytes(Math.min(256 * 1024, total - sent.bytes));
      hash.update(piece);
      sent.bytes += piece.length;
      controller.enqueue(new Uint8Array(piece));
      await new Promise((r) => setTimeout(r, 2));
    },
  });
}

describe("crash safety: kill -9 of the server process", () => {
  test("mid-upload: no partial blob visible, the session resumes from its committed Range", async () => {
    const root = tempDir();
    try {
      let server = await startChildServer(root);
      let client = new TestClient(server.url);
      const total = 64 * 1024 * 1024;
      // A session with one committed chunk, then a PATCH killed mid-stream.
      const location = await client.startUpload("crash/upload");
      const first = randomBytes(1_000_000);
      let res = await client.fetch(location, { method: "PATCH", body: first, headers: { "Content-Range": "0-999999" } });
      assert.equal(res.status, 202);
      const patchHash = createHash("sha256");
      const patchSent = { bytes: 0 };
      const killedPatch = client.fetch(location, { method: "PATCH", body: slowBody(total, patchHash, patchSent) }).catch((e: Error) => e);
      // And a monolithic PUT of a whole blob killed mid-stream.
      const location2 = await client.startUpload("crash/upload");
      const putHash = createHash("sha256");
      const putSent = { bytes: 0 };
      const fakeDigest = sha256("claimed digest of a blob that never finished");
      const killedPut = client.fetch(`${location2}?digest=${fakeDigest}`, { method: "PUT", body: slowBody(total, putHash, putSent) }).catch((e: Error) => e);
      while (patchSent.bytes < 8 * 1024 * 1024 || putSent.bytes < 8 * 1024 * 1024) await new Promise((r) => setTimeout(r, 20));
      await server.kill("SIGKILL");
      assert.ok((await killedPatch) instanceof Error);
      assert.ok((await killedPut) instanceof Error);
      assert.ok(patchSent.bytes < total && putSent.bytes < total, "the kill landed mid-transfer");

      server = await startChildServer(root);
      client = new TestClient(server.url);
      try {
        assert.deepEqual(await checkStorageInvariants(root), []);
        res = await client.fetch(`/v2/crash/upload/blobs/${fakeDigest}`, { method: "HEAD" });
        assert.equal(res.status, 404);
        // The interrupted PATCH was never acknowledged: the session is back at its last committed chunk.
        await assertSessionResumes(client, "crash/upload", location, first);
      } finally {
        await server.kill();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("random kills during concurrent blob and manifest pushes: acknowledged writes survive, nothing dangles", async () => {
    const root = tempDir();
    const acknowledged: { repo: string; tag: string; digest: string; layer: string }[] = [];
    try {
      for (let round = 0; round < 6; round++) {
        const server = await startChildServer(root);
        const client = new TestClient(server.url);
        let stop = false;
        const worker = async (w: number) => {
          for (let i = 0; !stop; i++) {
            try {
              const repo = `crash/r${w}`;
              const tag = `t${round}-${i}`;
              const img = await client.pushImage(repo, tag, randomBytes(50_000 + Math.floor(Math.random() * 2_000_000)));
              acknowledged.push({ repo, tag, digest: img.digest, layer: img.layerDigest });
            } catch {
              return; // the server died under us
            }
          }
        };
        const workers = Array.from({ length: 4 }, (_, w) => worker(w));
        await new Promise((r) => setTimeout(r, 150 + Math.random() * 500));
        await server.kill("SIGKILL");
        stop = true;
        await Promise.all(workers);
        assert.deepEqual(await checkStorageInvariants(root), [], `after kill ${round}`);
      }
      assert.ok(acknowledged.length > 5, `pushes were acknowledged (${acknowledged.length})`);
      const server = await startChildServer(root);
      const client = new TestClient(server.url);
      try {
        for (const a of acknowledged) {
          const m = await client.fetch(`/v2/${a.repo}/manifests/${a.tag}`);
          assert.equal(m.status, 200, `${a.repo}:${a.tag} survived`);
          assert.equal(sha256(Buffer.from(await m.arrayBuffer())), a.digest);
          const b = await client.fetch(`/v2/${a.repo}/blobs/${a.layer}`);
          assert.equal(sha256(Buffer.from(await b.arrayBuffer())), a.layer);
        }
      } finally {
        await server.kill();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
