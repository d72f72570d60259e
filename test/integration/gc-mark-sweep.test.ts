import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, test } from "node:test";
import { sha256, TestClient } from "../helpers/client.js";
import { headStatus, pushIndex, pushOwnImage, descriptorOf } from "../helpers/images.js";
import { checkStorageInvariants } from "../helpers/invariants.js";
import { ShiftedClock } from "../helpers/clock.js";
import { HOUR, opsConfig, runGc } from "../helpers/ops.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

function blobFile(root: string, digest: string): string {
  const [alg, hex] = digest.split(":") as [string, string];
  return path.join(root, "blobs", alg, hex.slice(0, 2), hex);
}

describe("garbage collection: mark and sweep", () => {
  let server: TestServer;
  let client: TestClient;
  let clock: ShiftedClock;
  const start = async () => {
    clock = new ShiftedClock();
    server = await startTestServer(opsConfig(), undefined, { clock });
    client = new TestClient(server.url);
  };
  afterEach(async () => {
    assert.deepEqual(await checkStorageInvariants(server.root), [], "no dangling row after GC");
    await server.dispose();
  });

  test("what a client looks up (HEAD) and so skips uploading gets its grace period back: GC keeps it for the manifest that follows", async () => {
    await start();
    const layer = randomBytes(5000);
    const layerDigest = await client.pushBlob("gc/skip", layer);
    const child = await pushOwnImage(client, "gc/skip");
    const forgotten = await client.pushBlob("gc/skip", randomBytes(3000));
    clock.advance(2 * HOUR);

    // A push that finds the layer and the child manifest stored does not send them again.
    assert.equal(await headStatus(client, "gc/skip", "blobs", layerDigest), 200);
    assert.equal(await headStatus(client, "gc/skip", "manifests", child.digest), 200);
    // Within a minute, a second lookup writes nothing (the read path stays read-only).
    const graceSince = async () => (await server.registry.meta.blobs.linked("gc/skip", layerDigest))!.graceSince;
    const first = await graceSince();
    assert.ok(clock.now() - first < 60_000, "the lookup restarted the clock");
    assert.equal(await headStatus(client, "gc/skip", "blobs", layerDigest), 200);
    assert.equal(await graceSince(), first);

    const gc = await runGc(client);
    assert.equal(gc.blobs.deleted, 1, "only the blob nobody looked at");
    assert.equal(await headStatus(client, "gc/skip", "blobs", forgotten), 404);
    // The manifest that references what was skipped still finds it all.
    await pushIndex(client, "gc/skip", [child], "v1");
    const image = await pushOwnImage(client, "gc/skip", "v2", { layer });
    assert.equal(image.blobs[1]!.digest, layerDigest);
    assert.equal(await headStatus(client, "gc/skip", "blobs", layerDigest), 200);
  });

  test("fresh garbage is kept for the grace period; past it, untagged manifests and unreferenced blobs go", async () => {
    await start();
    const tagged = await pushOwnImage(client, "gc/a", "v1");
    const untagged = await pushOwnImage(client, "gc/a");
    const lone = randomBytes(3000);
    const loneDigest = await client.pushBlob("gc/a", lone);

    const kept = await runGc(client);
    assert.deepEqual([kept.manifests.deleted, kept.blobs.deleted, kept.freedBytes], [0, 0, 0], "everything is younger than 1h");

    const garbageBytes = untagged.blobs.reduce((s, b) => s + b.size, 0) + lone.length;
    const dry = await runGc(client, { dryRun: true, grace: 0 });
    assert.equal(dry.dryRun, true);
    assert.deepEqual([dry.manifests.deleted, dry.blobs.deleted, dry.blobs.bytes], [1, 3, garbageBytes]);
    assert.equal(await headStatus(client, "gc/a", "manifests", untagged.digest), 200, "a dry run deletes nothing");
    assert.equal(await headStatus(client, "gc/a", "blobs", loneDigest), 200);

    const swept = await runGc(client, { grace: "0s" });
    assert.deepEqual([swept.manifests.deleted, swept.blobs.deleted, swept.blobs.bytes, swept.freedBytes], [1, 3, garbageBytes, garbageBytes]);
    assert.ok(swept.durationSeconds >= 0 && swept.graceSeconds === 0);
    assert.equal(await headStatus(client, "gc/a", "manifests", untagged.digest), 404);
    for (const b of [...untagged.blobs, { digest: loneDigest }]) {
      assert.equal(await headStatus(client, "gc/a", "blobs", b.digest), 404);
      assert.equal(existsSync(blobFile(server.root, b.digest)), false, "the file is deleted too");
    }
    // The tagged image is whole, byte for byte.
    const m = await client.fetch("/v2/gc/a/manifests/v1");
    assert.equal(await m.text(), tagged.body);
    for (const b of tagged.blobs) {
      const res = await client.fetch(`/v2/gc/a/blobs/${b.digest}`);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), b.digest);
    }
  });

  test("losing a tag or a reference restarts the grace period; a GC-deleted manifest frees its blobs in the same run", async () => {
    await start();
    const a = await pushOwnImage(client, "gc/clock", "a");
    const b = await pushOwnImage(client, "gc/clock", "b");
    const c = await pushOwnImage(client, "gc/clock", "c");
    clock.advance(2 * HOUR);
    assert.equal((await client.fetch("/v2/gc/clock/manifests/a", { method: "DELETE" })).status, 202); // untag a
    assert.equal((await client.fetch(`/v2/gc/clock/manifests/${b.digest}`, { method: "DELETE" })).status, 202); // delete b

    let report = await runGc(client);
    assert.equal(report.manifests.deleted, 0, "a was untagged a moment ago");
    assert.equal(report.blobs.deleted, 0, "b's blobs lost their reference a moment ago");

    clock.advance(2 * HOUR);
    report = await runGc(client);
    assert.equal(report.manifests.deleted, 1, "a, untagged for 2h");
    assert.equal(report.blobs.deleted, 4, "a's blobs (freed with a in one run) and b's");
    for (const blob of [...a.blobs, ...b.blobs]) assert.equal(await headStatus(client, "gc/clock", "blobs", blob.digest), 404);
    for (const blob of c.blobs) assert.equal(await headStatus(client, "gc/clock", "blobs", blob.digest), 200, "c is tagged");
  });

  test("children of a live index and referrers of a live subject are live; they go with their parent", async () => {
    await start();
    const repo = "gc/index";
    const child1 = await pushOwnImage(client, repo);
    const child2 = await pushOwnImage(client, repo);
    const index = await pushIndex(client, repo, [child1, child2], "multi");
    const signature = await pushOwnImage(client, repo, undefined, { subject: descriptorOf(index), artifactType: "application/vnd.example.signature" });
    const orphanReferrer = await pushOwnImage(client, repo, undefined, {
      subject: { digest: sha256("a manifest that never existed"), size: 10, mediaType: "application/vnd.oci.image.manifest.v1+json" },
      artifactType: "application/vnd.example.sbom",
    });
    const shared = await pushOwnImage(client, repo, "shared");
    clock.advance(2 * HOUR);

    let report = await runGc(client);
    assert.equal(report.manifests.deleted, 1, "only the referrer of a subject that does not exist");
    assert.equal(await headStatus(client, repo, "manifests", orphanReferrer.digest), 404);
    for (const m of [child1, child2, index, signature]) assert.equal(await headStatus(client, repo, "manifests", m.digest), 200);
    const referrers = (await (await client.fetch(`/v2/${repo}/referrers/${index.digest}`)).json()) as { manifests: { digest: string }[] };
    assert.deepEqual(referrers.manifests.map((m) => m.digest), [signature.digest]);

    assert.equal((await client.fetch(`/v2/${repo}/manifests/multi`, { method: "DELETE" })).status, 202);
    clock.advance(2 * HOUR);
    report = await runGc(client);
    assert.equal(report.manifests.deleted, 4, "the index, its two children and its referrer");
    assert.equal(report.blobs.deleted, 6);
    for (const m of [child1, child2, index, signature]) assert.equal(await headStatus(client, repo, "manifests", m.digest), 404);
    assert.equal(await headStatus(client, repo, "manifests", "shared"), 200);
    for (const b of shared.blobs) assert.equal(await headStatus(client, repo, "blobs", b.digest), 200);
  });

  test("a re-push or a mount restarts the grace period of an old manifest or blob", async () => {
    await start();
    const m = await pushOwnImage(client, "gc/repush");
    const blob = randomBytes(2048);
    const blobDigest = await client.pushBlob("gc/repush", blob);
    const mountable = randomBytes(1024);
    const mountDigest = await client.pushBlob("gc/source", mountable);
    clock.advance(2 * HOUR);

    assert.equal((await client.pushManifest("gc/repush", m.digest, m.body, m.mediaType)).status, 201);
    await client.pushBlob("gc/repush", blob);
    const mount = await client.fetch(`/v2/gc/target/blobs/uploads/?mount=${mountDigest}&from=gc/source`, { method: "POST" });
    assert.equal(mount.status, 201);

    let report = await runGc(client);
    assert.deepEqual([report.manifests.deleted, report.blobs.deleted], [0, 0], "all three were just pushed again");
    clock.advance(2 * HOUR);
    report = await runGc(client);
    assert.deepEqual([report.manifests.deleted, report.blobs.deleted], [1, 4], "the manifest with its 2 blobs, the lone blob, the mounted blob");
    assert.equal(await headStatus(client, "gc/repush", "blobs", blobDigest), 404);
    assert.equal(await headStatus(client, "gc/target", "blobs", mountDigest), 404);
  });

  test("files under blobs/ without a row (a crash between rename and commit, or row and unlink) are swept after the grace period", async () => {
    await start();
    const kept = await pushOwnImage(client, "gc/orphans", "v1");
    const plant = (data: Buffer, ageMs: number) => {
      const file = blobFile(server.root, sha256(data));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, data);
      const t = (Date.now() - ageMs) / 1000;
      utimesSync(file, t, t);
      return file;
    };
    const old = plant(randomBytes(5000), 2 * HOUR);
    const fresh = plant(randomBytes(700), 0);
    const foreign = path.join(server.root, "blobs", "sha256", "zz", "not-a-digest");
    mkdirSync(path.dirname(foreign), { recursive: true });
    writeFileSync(foreign, "left by someone else");
    utimesSync(foreign, 0, 0);

    const dry = await runGc(client, { dryRun: true });
    assert.deepEqual([dry.orphanFiles.deleted, dry.orphanFiles.bytes], [1, 5000]);
    assert.ok(existsSync(old));
    const report = await runGc(client);
    assert.deepEqual([report.orphanFiles.deleted, report.orphanFiles.bytes, report.freedBytes], [1, 5000, 5000]);
    assert.equal(existsSync(old), false);
    assert.ok(existsSync(fresh), "an orphan younger than the grace period may be an upload committing");
    assert.ok(existsSync(foreign), "files that are not named by a digest are not ours to delete");
    for (const b of kept.blobs) assert.ok(existsSync(blobFile(server.root, b.digest)));
  });

  test("upload sessions idle past the TTL are purged with their files; a session being written to is not", async () => {
    clock = new ShiftedClock();
    server = await startTestServer(opsConfig({ gc: { uploadTtl: 24 * HOUR } }), undefined, { clock });
    client = new TestClient(server.url);
    const idle = await client.startUpload("gc/uploads");
    assert.equal((await client.fetch(idle, { method: "PATCH", body: randomBytes(100_000) })).status, 202);
    const busy = await client.startUpload("gc/uploads");
    const idleId = idle.split("/").pop()!;
    const busyId = busy.split("/").pop()!;

    // A PATCH that streams slowly: its session row is as old as the idle one, but it is busy.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 1) await gate;
        if (sent === 2) return controller.close();
        sent++;
        controller.enqueue(new Uint8Array(randomBytes(50_000)));
      },
    });
    const patching = client.fetch(busy, { method: "PATCH", body });
    while (sent < 1) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    clock.advance(25 * HOUR);

    const report = await runGc(client);
    assert.deepEqual([report.uploads.purged, report.uploads.bytes], [1, 100_000]);
    assert.equal((await client.fetch(idle)).status, 404, "the idle session is gone");
    const files = readdirSync(path.join(server.root, "uploads"));
    assert.ok(!files.includes(idleId) && files.includes(busyId));

    release();
    assert.equal((await patching).status, 202, "the busy session kept streaming");
    const status = await client.fetch(busy);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get("range"), "0-99999");
  });
});
