import assert from "node:assert/strict";
import { existsSync, openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { sha256, TestClient } from "../helpers/client.js";
import { headStatus, pushOwnImage } from "../helpers/images.js";
import { metricValue, opsConfig, runScrub } from "../helpers/ops.js";
import { startTestServer } from "../helpers/server.js";

function blobFile(root: string, digest: string): string {
  const [alg, hex] = digest.split(":") as [string, string];
  return path.join(root, "blobs", alg, hex.slice(0, 2), hex);
}

/** Bit rot: flip one byte in the middle of a stored blob, in place. */
function flipByte(file: string): void {
  const size = readFileSync(file).length;
  const fd = openSync(file, "r+");
  try {
    const at = Math.floor(size / 2);
    const byte = readFileSync(file)[at]!;
    writeSync(fd, Buffer.from([byte ^ 0xff]), 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

async function scrubGauge(client: TestClient): Promise<number | undefined> {
  return metricValue(await (await client.fetch("/metrics")).text(), "dvcr_scrub_corrupt_blobs");
}

describe("scrub: re-hash stored blobs", () => {
  test("finds a corrupted and a missing blob, reports them (and the metric), repairs by quarantine; a re-push heals", async () => {
    const server = await startTestServer(opsConfig());
    const client = new TestClient(server.url);
    try {
      const damaged = await pushOwnImage(client, "scrub/a", "v1", { layer: Buffer.alloc(300_000, 7) });
      const lost = await pushOwnImage(client, "scrub/b", "v1");
      const healthy = await pushOwnImage(client, "scrub/c", "v1");

      let report = await runScrub(client);
      assert.deepEqual([report.checked, report.corrupt, report.missing], [6, [], []]);
      assert.equal(report.bytes, [damaged, lost, healthy].flatMap((m) => m.blobs).reduce((n, b) => n + b.size, 0));
      assert.equal(await scrubGauge(client), 0);

      const corruptDigest = damaged.blobs[1]!.digest;
      const missingDigest = lost.blobs[1]!.digest;
      flipByte(blobFile(server.root, corruptDigest));
      rmSync(blobFile(server.root, missingDigest));

      report = await runScrub(client);
      assert.deepEqual(report.corrupt, [corruptDigest]);
      assert.deepEqual(report.missing, [missingDigest]);
      assert.deepEqual(report.quarantined, [], "without --repair nothing is moved");
      assert.equal(await scrubGauge(client), 2);

      const only = await runScrub(client, { repository: "scrub/c" });
      assert.deepEqual([only.repository, only.checked, only.corrupt, only.missing], ["scrub/c", 2, [], []]);

      report = await runScrub(client, { repair: true });
      assert.deepEqual(report.quarantined.sort(), [corruptDigest, missingDigest].sort());
      const quarantined = path.join(server.root, "quarantine", "sha256", corruptDigest.slice(7));
      assert.ok(existsSync(quarantined), "the damaged bytes are kept for inspection");
      assert.notEqual(sha256(readFileSync(quarantined)), corruptDigest);
      assert.equal(existsSync(blobFile(server.root, corruptDigest)), false);
      assert.equal(await headStatus(client, "scrub/a", "blobs", corruptDigest), 404, "HEAD says missing, so a push uploads it again");
      const metrics = await (await client.fetch("/metrics")).text();
      assert.equal(metricValue(metrics, "dvcr_scrub_quarantined_blobs_total"), 2);

      // Pushing the same images again heals them; the next scrub is clean.
      for (const [repo, image] of [["scrub/a", damaged], ["scrub/b", lost]] as const) {
        for (const b of image.blobs) await client.pushBlob(repo, b.data);
        assert.equal((await client.pushManifest(repo, "v1", image.body, image.mediaType)).status, 201);
      }
      report = await runScrub(client);
      assert.deepEqual([report.checked, report.corrupt, report.missing], [6, [], []]);
      assert.equal(await scrubGauge(client), 0);
      const layer = await client.fetch(`/v2/scrub/a/blobs/${corruptDigest}`);
      assert.equal(sha256(Buffer.from(await layer.arrayBuffer())), corruptDigest);
    } finally {
      await server.dispose();
    }
  });
});
