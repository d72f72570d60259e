import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import BetterSqlite3 from "better-sqlite3";
import { TestClient } from "../helpers/client.js";
import type { ImageEntry } from "../../src/index/index.js";
import { convert, diskLayer, makeRaw, sha256sum } from "../helpers/disk-images.js";
import { getImageEntry, pushDiskImage, waitForImage } from "../helpers/disk-push.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";

const MiB = 1024 * 1024;

describe("the index works behind the push", () => {
  let dir: string;
  let large: Buffer;
  let largeFile: string;
  let small: Buffer;
  before(async () => {
    dir = tempDir("dvcr-indexing-");
    largeFile = makeRaw(dir, "large.img", "160M", 160 * MiB);
    large = await diskLayer(largeFile);
    small = await diskLayer(makeRaw(dir, "small.img", "1M", MiB));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a manifest PUT returns before its disk is indexed; the image reads `indexing` until then", async () => {
    const server = await startTestServer();
    try {
      const client = new TestClient(server.url);
      // Blobs first (their upload time is the client's, whatever the disk size), then the manifests.
      const bigPush = await pushDiskImage(client, "cvi/large", "latest", large);
      const returnedAt = Date.now();
      const smallPush = await pushDiskImage(client, "cvi/small", "latest", small);
      assert.equal(bigPush.response.status, 201);
      assert.equal(smallPush.response.status, 201);
      // Straight after the PUTs the large disk (160 MiB to hash) cannot be done yet.
      const early = await getImageEntry(client, "cvi/large");
      assert.equal(early.status, "indexing");
      assert.equal(early.sha256, null);
      const done = await waitForImage(client, "cvi/large");
      assert.ok(Date.parse(done.indexedAt!) >= returnedAt, "indexing finished after the manifest PUT had returned");
      assert.equal(done.sha256, sha256sum(largeFile));
      assert.equal(done.virtualSize, 160 * MiB);
      assert.equal((await waitForImage(client, "cvi/small")).format, "raw");
    } finally {
      await server.dispose();
    }
  });

  test("work left at shutdown, and manifests from before the index existed, are indexed at start-up", async () => {
    const root = tempDir("dvcr-resume-");
    let server: TestServer | undefined = await startTestServer({}, root);
    try {
      let client = new TestClient(server.url);
      const pushed = await pushDiskImage(client, "vi/ns/large", "latest", large);
      await pushDiskImage(client, "vi/ns/small", "latest", small);
      await server.close(); // at once: the large disk's checksum pass is cut short
      server = await startTestServer({}, root);
      client = new TestClient(server.url);
      const resumed = await waitForImage(client, "vi/ns/large");
      assert.equal(resumed.digest, pushed.manifestDigest);
      assert.equal(resumed.sha256, sha256sum(largeFile));
      assert.equal((await waitForImage(client, "vi/ns/small")).status, "ready");
      await server.close();

      // As if these manifests had been pushed before this dvcr had a disk index.
      const db = new BetterSqlite3(path.join(root, "meta.db"));
      db.exec("DELETE FROM disk_images");
      db.close();
      server = await startTestServer({}, root);
      client = new TestClient(server.url);
      assert.equal((await waitForImage(client, "vi/ns/small")).format, "raw");
      assert.equal((await waitForImage(client, "vi/ns/large")).sha256, sha256sum(largeFile));
    } finally {
      await server?.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("an index row goes with the last manifest of its digest (manifest delete, repository delete), not at the next start", async () => {
    const server = await startTestServer();
    try {
      const client = new TestClient(server.url);
      const index = server.registry.meta.diskImages;
      // The same image in two repositories: one digest, one index row, kept while either holds it.
      const digest = (await pushDiskImage(client, "cvi/a", "latest", small)).manifestDigest;
      const got = await client.fetch(`/v2/cvi/a/manifests/${digest}`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } });
      const manifest = Buffer.from(await got.arrayBuffer());
      const { config, layers } = JSON.parse(manifest.toString("utf8")) as { config: { digest: string }; layers: { digest: string }[] };
      for (const blob of [config, ...layers]) {
        const mounted = await client.fetch(`/v2/vi/ns/b/blobs/uploads/?mount=${blob.digest}&from=cvi/a`, { method: "POST" });
        assert.equal(mounted.status, 201);
      }
      const copied = await client.pushManifest("vi/ns/b", "latest", manifest.toString("utf8"), "application/vnd.oci.image.manifest.v1+json");
      assert.equal(copied.status, 201);
      await waitForImage(client, "cvi/a");
      assert.equal((await waitForImage(client, "vi/ns/b")).digest, digest);
      const record = await index.get(digest);
      assert.ok(record);
      const deleted = await client.fetch(`/v2/cvi/a/manifests/${digest}`, { method: "DELETE" });
      assert.equal(deleted.status, 202);
      assert.equal((await index.get(digest))?.status, "ready", "vi/ns/b still holds the manifest");
      const dropped = await client.fetch("/api/v1/repositories/vi/ns/b", { method: "DELETE" });
      assert.equal(dropped.status, 200);
      assert.equal(await index.get(digest), null, "gone with the last manifest");
      // An inspection finishing after the delete (a save racing it) leaves no row either.
      await index.save(digest, record);
      assert.equal(await index.get(digest), null);
    } finally {
      await server.dispose();
    }
  });

  test("metrics: images by kind and format, virtual and stored bytes", async () => {
    const server = await startTestServer();
    try {
      const client = new TestClient(server.url);
      await pushDiskImage(client, "cvi/m1", "latest", small);
      // The same manifest under a second tag is still one image.
      const manifest = await client.fetch("/v2/cvi/m1/manifests/latest");
      const type = manifest.headers.get("content-type")!;
      assert.equal((await client.pushManifest("cvi/m1", "stable", await manifest.text(), type)).status, 201);
      await pushDiskImage(client, "vd/ns/m2", "latest", small);
      await client.pushImage("library/app", "v1");
      for (const repo of ["cvi/m1", "vd/ns/m2"]) await waitForImage(client, repo);
      await waitForImage(client, "library/app", "?tag=v1");
      const text = await (await client.fetch("/metrics")).text();
      const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1]);
      assert.equal(value('dvcr_images{kind="ClusterVirtualImage",format="raw"}'), 1);
      assert.equal(value('dvcr_images{kind="VirtualDisk",format="raw"}'), 1);
      assert.equal(value('dvcr_images{kind="Image",format="none"}'), 1);
      assert.equal(value('dvcr_images_virtual_bytes{kind="ClusterVirtualImage"}'), MiB);
      assert.equal(value('dvcr_images_stored_bytes{kind="VirtualDisk"}'), small.length);
      assert.equal(value('dvcr_disk_index_queued{pass="checksum"}'), 0);
    } finally {
      await server.dispose();
    }
  });

  test("DVCR's own importer's images (the source kept xz-compressed in the layer): the index describes the disk inside, also for rows an older inspector judged", async () => {
    const root = tempDir("dvcr-compressed-");
    let server: TestServer | undefined = await startTestServer({}, root);
    try {
      const qcow2 = convert(largeFile, path.join(dir, "inner.qcow2"), "qcow2");
      execFileSync("xz", ["-k", "-f", "-T0", qcow2]);
      const packed = `${qcow2}.xz`;
      // DVCR's importer labels the file it stored: the compressed source's size.
      const labels = { "source-image-size": String(statSync(packed).size), "source-image-virtual-size": String(160 * MiB), "source-image-format": "qcow2" };
      let client = new TestClient(server.url);
      await pushDiskImage(client, "cvi/packed", "latest", await diskLayer(packed, "ubuntu.qcow2.xz"), { labels });
      const expect = (entry: ImageEntry) => {
        assert.equal(entry.compression, "xz");
        assert.equal(entry.format, "qcow2");
        assert.equal(entry.virtualSize, 160 * MiB);
        assert.equal(entry.unpackedSize, statSync(qcow2).size);
        assert.equal(entry.sha256, sha256sum(qcow2), "the checksum is the disk's, as a disk importer writes it");
        assert.equal(entry.details?.storedFileSize, statSync(packed).size);
        assert.deepEqual(entry.labelMismatch, []);
        assert.equal(entry.reason, null);
      };
      expect(await waitForImage(client, "cvi/packed"));
      await server.close();

      // As an inspector of version 1 left it: refused as "xz-compressed".
      const db = new BetterSqlite3(path.join(root, "meta.db"));
      db.exec(`UPDATE disk_images SET inspector = 1, format = NULL, compression = NULL, sha256 = NULL, reason = 'disk file is xz-compressed; the image must hold the disk itself'`);
      db.close();
      server = await startTestServer({}, root);
      client = new TestClient(server.url);
      const until = Date.now() + 60_000;
      let entry = await getImageEntry(client, "cvi/packed");
      while ((entry.status !== "ready" || entry.format === null) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
        entry = await getImageEntry(client, "cvi/packed");
      }
      expect(entry);
    } finally {
      await server?.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
