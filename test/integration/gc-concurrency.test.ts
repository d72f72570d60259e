import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { sha256, TestClient } from "../helpers/client.js";
import { pushOwnImage, type PushedManifest } from "../helpers/images.js";
import { checkStorageInvariants } from "../helpers/invariants.js";
import { ShiftedClock } from "../helpers/clock.js";
import { HOUR, opsConfig, runGc } from "../helpers/ops.js";
import { startTestServer } from "../helpers/server.js";

/** Soak length: DVCR_SOAK_SECONDS (the 60 s), 20 s by default to keep the suite short. */
const SOAK_SECONDS = Number(process.env.DVCR_SOAK_SECONDS ?? 20);

function blobFile(root: string, digest: string): string {
  const [alg, hex] = digest.split(":") as [string, string];
  return path.join(root, "blobs", alg, hex.slice(0, 2), hex);
}

async function pullsByteForByte(client: TestClient, repo: string, tag: string, image: PushedManifest): Promise<string | null> {
  const m = await client.fetch(`/v2/${repo}/manifests/${tag}`);
  if (m.status !== 200) return `${repo}:${tag} manifest ${m.status}`;
  if ((await m.text()) !== image.body) return `${repo}:${tag} manifest bytes differ`;
  for (const b of image.blobs) {
    const res = await client.fetch(`/v2/${repo}/blobs/${b.digest}`);
    if (res.status !== 200) return `${repo}:${tag} blob ${b.digest} ${res.status}`;
    const data = Buffer.from(await res.arrayBuffer());
    if (data.length !== b.size || sha256(data) !== b.digest) return `${repo}:${tag} blob ${b.digest} bytes differ`;
  }
  return null;
}

describe("garbage collection with pushes in flight", () => {
  test("a blob re-uploaded while GC is deleting it ends up stored (the upload waits for the unlink)", async () => {
    const clock = new ShiftedClock();
    const server = await startTestServer(opsConfig(), undefined, { clock });
    const client = new TestClient(server.url);
    try {
      const data = randomBytes(300_000);
      const digest = await client.pushBlob("race/a", data);
      clock.advance(2 * HOUR);
      const { claims, meta, storage } = server.registry;

      // GC, stopped between its two steps: the row is gone, the file is not yet unlinked.
      const finish = claims.beginRemoval(digest);
      assert.ok(finish);
      assert.equal(await meta.collection.deleteBlobIfCollectable(digest, clock.now() - HOUR), data.length);

      let settled = false;
      const upload = client.pushBlob("race/b", data).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(settled, false, "the commit waits until GC has unlinked the old file");

      await storage.delete({ algorithm: "sha256", hex: digest.slice(7), value: digest });
      finish!();
      assert.equal(await upload, digest);
      assert.ok(existsSync(blobFile(server.root, digest)), "the re-uploaded bytes are in place");
      const res = await client.fetch(`/v2/race/b/blobs/${digest}`);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest);
      assert.deepEqual(await checkStorageInvariants(server.root), []);
    } finally {
      await server.dispose();
    }
  });

  test("GC leaves alone a digest an upload is committing (claimed between rename and commit)", async () => {
    const clock = new ShiftedClock();
    const server = await startTestServer(opsConfig(), undefined, { clock });
    const client = new TestClient(server.url);
    try {
      const digest = await client.pushBlob("race/claimed", randomBytes(1000));
      clock.advance(2 * HOUR);
      const release = await server.registry.claims.claim(digest);
      assert.equal((await runGc(client)).blobs.deleted, 0);
      assert.ok(existsSync(blobFile(server.root, digest)));
      release();
      assert.equal((await runGc(client)).blobs.deleted, 1);
      assert.deepEqual(await checkStorageInvariants(server.root), []);
    } finally {
      await server.dispose();
    }
  });

  test(`soak: pushes in a loop while GC runs in a loop for ${SOAK_SECONDS}s; every image pulls byte for byte`, { timeout: (SOAK_SECONDS + 120) * 1000 }, async (t) => {
    const server = await startTestServer(opsConfig());
    const client = new TestClient(server.url);
    // GC's grace in the soak: long enough for one push (blobs, then manifest) on a busy machine.
    const grace = "3s";
    try {
      const deadline = Date.now() + SOAK_SECONDS * 1000;
      // Layers that churn images share, picked at random: each one is garbage for a while (longer
      // than the grace period, often) and then pushed again, so GC keeps deleting blobs that
      // pushes are uploading again.
      const RECYCLED_SIZE = 64 * 1024;
      const recycled = Array.from({ length: 128 }, () => randomBytes(RECYCLED_SIZE));
      const kept: { repo: string; tag: string; image: PushedManifest }[] = [];
      const failures: string[] = [];
      let churned = 0;

      const pusher = async (w: number) => {
        for (let i = 0; Date.now() < deadline; i++) {
          try {
            const repo = `soak/kept${w}`;
            const tag = `t${i}`;
            const image = await pushOwnImage(client, repo, tag, { layer: randomBytes(32 * 1024 + Math.floor(Math.random() * 512 * 1024)) });
            kept.push({ repo, tag, image });
            const churn = await pushOwnImage(client, "soak/churn", `w${w}-${i}`, { layer: recycled[Math.floor(Math.random() * recycled.length)] });
            const problem = await pullsByteForByte(client, "soak/churn", `w${w}-${i}`, churn);
            if (problem) failures.push(problem);
            const del = await client.fetch(`/v2/soak/churn/manifests/w${w}-${i}`, { method: "DELETE" });
            if (del.status !== 202) failures.push(`delete churn tag: ${del.status}`);
            churned++;
          } catch (err) {
            failures.push(`push ${w}/${i}: ${(err as Error).message}`);
          }
        }
      };
      const collector = async () => {
        const totals = { runs: 0, manifests: 0, blobs: 0, freedBytes: 0 };
        while (Date.now() < deadline) {
          const report = await runGc(client, { grace });
          totals.runs++;
          totals.manifests += report.manifests.deleted;
          totals.blobs += report.blobs.deleted;
          totals.freedBytes += report.freedBytes;
          await new Promise((r) => setTimeout(r, 20));
        }
        return totals;
      };
      const [totals] = await Promise.all([collector(), pusher(0), pusher(1), pusher(2)]);

      assert.deepEqual(failures, [], "no push, pull or delete failed while GC ran");
      assert.ok(kept.length >= 10 && churned >= 10, `pushed ${kept.length} kept and ${churned} churn images`);
      assert.ok(totals.runs >= 3 && totals.manifests > 0, `GC did work meanwhile: ${JSON.stringify(totals)}`);
      assert.ok(totals.freedBytes >= RECYCLED_SIZE, `GC collected recycled layers while they were being pushed again: ${JSON.stringify(totals)}`);
      // A last GC after the grace period, then every kept image, byte for byte.
      await new Promise((r) => setTimeout(r, 3100));
      await runGc(client, { grace });
      for (const k of kept) assert.equal(await pullsByteForByte(client, k.repo, k.tag, k.image), null);
      assert.deepEqual(await checkStorageInvariants(server.root), []);
      t.diagnostic(`soak ${SOAK_SECONDS}s: ${kept.length} kept images, ${churned} churned, GC ${JSON.stringify(totals)}`);
    } finally {
      await server.dispose();
    }
  });
});
