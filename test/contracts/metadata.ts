import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { ManualClock } from "../helpers/clock.js";
import { ResourceVersionTooOld, StoreConflict, type DiskImageRecord, type KubeObject, type Metadata, type NewManifest, type ObjectChange } from "../../src/meta/index.js";

/**
 * What every metadata backend must do (meta/metadata.ts). `open` gives a fresh, empty backend
 * reading time from `clock`; `close` is called after each test.
 */
export interface MetadataFactory {
  /** `retainObjectChanges`: how many object changes the backend keeps for watches. */
  open(clock: ManualClock, options?: { retainObjectChanges?: number }): Promise<Metadata>;
}

const HOUR = 60 * 60 * 1000;

function digest(text: string): string {
  return `sha256:${createHash("sha256").update(text).digest("hex")}`;
}

function manifestOf(name: string, blobs: string[] = [], manifests: string[] = [], subject?: string): NewManifest {
  const content = Buffer.from(JSON.stringify({ name, blobs, manifests, subject }));
  return { digest: digest(content.toString()), mediaType: "application/vnd.oci.image.manifest.v1+json", content, blobs, manifests, subject };
}

function diskRow(overrides: Partial<DiskImageRecord> = {}): DiskImageRecord {
  return {
    status: "ready",
    inspector: 1,
    format: "qcow2",
    reason: null,
    virtualSize: 1024,
    storedSize: 10,
    unpackedSize: 20,
    diskFile: "disk/x.qcow2",
    layerDigest: null,
    cdrom: false,
    compression: null,
    sha256: null,
    md5: null,
    details: { version: 3 },
    labels: { a: "b" },
    labelMismatch: [],
    indexedAt: 1,
    ...overrides,
  };
}

function kubeObject(name: string, spec: unknown = {}): KubeObject {
  return {
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "ClusterVirtualImage",
    metadata: { name, uid: `uid-${name}`, resourceVersion: "", generation: 1, creationTimestamp: "2026-12-03T00:00:00Z" },
    spec,
  };
}

async function rejectsWith(promise: Promise<unknown>, check: (err: unknown) => boolean, message: string): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(check(err), `${message}: got ${String(err)}`);
    return true;
  });
}

export function metadataContract(backend: string, factory: MetadataFactory): void {
  describe(`metadata contract: ${backend}`, () => {
    const withMeta = (name: string, fn: (meta: Metadata, clock: ManualClock) => Promise<void>) =>
      test(name, async () => {
        const clock = new ManualClock();
        const meta = await factory.open(clock);
        try {
          await fn(meta, clock);
        } finally {
          await meta.close();
        }
      });

    /** An upload of `size` bytes committed into `repository`. */
    const commitBlob = async (meta: Metadata, repository: string, blob: string, size = 10) => {
      const id = `upload-${blob.slice(7, 19)}-${repository.replace(/\W/g, "")}`;
      await meta.uploads.create(id, repository);
      await meta.uploads.setSize(id, size);
      await meta.blobs.commitUpload(id, repository, blob, size);
    };

    /** A manifest over blobs already committed to `repository`, tagged or not. */
    const pushImage = async (meta: Metadata, repository: string, name: string, tags: string[] = [], blobs = [digest(`${name}-layer`)]) => {
      for (const b of blobs) await commitBlob(meta, repository, b);
      const manifest = manifestOf(name, blobs);
      const problem = await meta.manifests.put(repository, manifest, tags, { blobs: blobs.map((d) => ({ digest: d, size: 10 })), manifests: [] });
      assert.equal(problem, undefined);
      return manifest;
    };

    withMeta("a committed upload is a blob the repository links, and its session is gone", async (meta, clock) => {
      const blob = digest("b");
      await meta.uploads.create("u1", "cvi/a");
      await meta.uploads.setSize("u1", 42);
      assert.equal((await meta.uploads.get("u1"))?.size, 42);
      await meta.blobs.commitUpload("u1", "cvi/a", blob, 42);
      assert.equal(await meta.uploads.get("u1"), undefined);
      assert.deepEqual(await meta.blobs.linked("cvi/a", blob), { size: 42, graceSince: clock.now() });
      assert.equal(await meta.blobs.linked("cvi/other", blob), undefined);
      assert.equal(await meta.blobs.sizeOf(blob), 42);
      assert.deepEqual(await meta.blobs.holders(blob), ["cvi/a"]);
      assert.deepEqual(await meta.usage(), { blobsBytes: 42, blobs: 1, uploadsBytes: 0, uploads: 0 });
      // The same bytes committed again (a concurrent push) keep one row.
      await commitBlob(meta, "cvi/b", blob, 42);
      assert.deepEqual(await meta.blobs.holders(blob), ["cvi/a", "cvi/b"]);
      assert.equal((await meta.usage()).blobs, 1);
      assert.equal(await meta.blobs.unlink("cvi/a", blob), true);
      assert.equal(await meta.blobs.unlink("cvi/a", blob), false);
      assert.deepEqual(await meta.blobs.holders(blob), ["cvi/b"]);
    });

    withMeta("a mount links from the first source still holding the blob and restarts its clock", async (meta, clock) => {
      const blob = digest("m");
      await commitBlob(meta, "src/a", blob, 7);
      assert.equal(await meta.blobs.mount("dst/x", blob, ["src/none", "dst/x"]), undefined);
      assert.equal(await meta.blobs.linked("dst/x", blob), undefined, "a refused mount links nothing");
      clock.advance(HOUR);
      assert.equal(await meta.blobs.mount("dst/x", blob, ["src/none", "src/a"]), 7);
      assert.deepEqual(await meta.blobs.linked("dst/x", blob), { size: 7, graceSince: clock.now() });
    });

    withMeta("uploads: listed, idle by their last write, deleted", async (meta, clock) => {
      await meta.uploads.create("old", "r/a");
      clock.advance(HOUR);
      await meta.uploads.create("new", "r/a");
      await meta.uploads.setSize("new", 5);
      assert.deepEqual((await meta.uploads.list()).map((u) => u.id).sort(), ["new", "old"]);
      assert.deepEqual(await meta.uploads.idle(clock.now() - 1), [{ id: "old", repository: "r/a", size: 0 }]);
      assert.equal((await meta.usage()).uploadsBytes, 5);
      assert.equal(await meta.uploads.deleteIfIdle("new", clock.now() - 1), false, "written to since");
      assert.equal(await meta.uploads.deleteIfIdle("old", clock.now() - 1), true);
      assert.equal(await meta.uploads.get("old"), undefined);
      assert.equal(await meta.uploads.delete("new"), true);
      assert.equal(await meta.uploads.delete("new"), false);
    });

    withMeta("a manifest is stored only when the repository holds what it references, at the declared size", async (meta) => {
      const blob = digest("layer");
      const manifest = manifestOf("m", [blob]);
      const refs = { blobs: [{ digest: blob, size: 10 }], manifests: [] };
      assert.deepEqual(await meta.manifests.put("cvi/a", manifest, ["v1"], refs), { kind: "blob", digest: blob, size: 10, stored: undefined });
      assert.equal(await meta.repositories.exists("cvi/a"), false, "a refused manifest leaves nothing behind");
      await commitBlob(meta, "cvi/a", blob, 11);
      assert.deepEqual(await meta.manifests.put("cvi/a", manifest, ["v1"], refs), { kind: "blob", digest: blob, size: 10, stored: 11 });
      assert.equal(await meta.manifests.getByTag("cvi/a", "v1"), undefined);
      const child = manifestOf("child");
      const index = manifestOf("index", [], [child.digest]);
      assert.deepEqual(await meta.manifests.put("cvi/a", index, [], { blobs: [], manifests: [{ digest: child.digest, size: child.content.length }] }), {
        kind: "manifest",
        digest: child.digest,
        size: child.content.length,
        stored: undefined,
      });
    });

    withMeta("manifests: by digest and tag, tags move, deletes, tag pages, referrers, catalog", async (meta, clock) => {
      const first = await pushImage(meta, "cvi/a", "one", ["latest", "v1"]);
      const second = await pushImage(meta, "cvi/a", "two", ["latest"]);
      const got = await meta.manifests.get("cvi/a", first.digest);
      assert.equal(got?.content.toString(), first.content.toString());
      assert.equal(got?.repository, "cvi/a");
      assert.equal(got?.size, first.content.length);
      assert.equal(got?.createdAt, clock.now());
      assert.equal((await meta.manifests.getByTag("cvi/a", "latest"))?.digest, second.digest, "the tag moved");
      assert.equal(await meta.manifests.get("cvi/b", first.digest), undefined, "repositories do not share manifests");
      assert.deepEqual(await meta.manifests.listTags("cvi/a", {}), ["latest", "v1"]);
      assert.deepEqual(await meta.manifests.listTags("cvi/a", { last: "latest", limit: 5 }), ["v1"]);
      assert.deepEqual(await meta.manifests.listTags("cvi/none", {}), []);
      const referrer = manifestOf("sig", [], [], second.digest);
      assert.equal(await meta.manifests.put("cvi/a", referrer, [], { blobs: [], manifests: [] }), undefined);
      assert.deepEqual((await meta.manifests.referrers("cvi/a", second.digest)).map((m) => m.digest), [referrer.digest]);
      assert.equal(await meta.manifests.deleteTag("cvi/a", "v1"), true);
      assert.equal(await meta.manifests.deleteTag("cvi/a", "v1"), false);
      assert.equal(await meta.manifests.delete("cvi/a", second.digest), true);
      assert.equal(await meta.manifests.getByTag("cvi/a", "latest"), undefined, "its tags went with it");
      await meta.uploads.create("u-empty", "cvi/empty");
      await commitBlob(meta, "cvi/empty", digest("lonely"));
      assert.deepEqual(await meta.repositories.list({}), ["cvi/a"], "the catalog lists repositories holding a manifest");
      assert.equal(await meta.repositories.exists("cvi/empty"), true);
    });

    withMeta("grace clocks follow the injected clock: push, re-push, lookups, untagging", async (meta, clock) => {
      const manifest = await pushImage(meta, "cvi/a", "img", ["v1"]);
      const pushedAt = clock.now();
      assert.equal((await meta.manifests.get("cvi/a", manifest.digest))?.graceSince, pushedAt);
      clock.advance(HOUR);
      await meta.manifests.touch("cvi/a", manifest.digest);
      assert.equal((await meta.manifests.get("cvi/a", manifest.digest))?.graceSince, clock.now());
      clock.advance(HOUR);
      const layer = manifest.blobs[0]!;
      await meta.blobs.touch(layer);
      assert.equal((await meta.blobs.linked("cvi/a", layer))?.graceSince, clock.now());
      clock.advance(HOUR);
      await meta.manifests.deleteTag("cvi/a", "v1");
      assert.equal((await meta.manifests.get("cvi/a", manifest.digest))?.graceSince, clock.now(), "untagging restarts the clock");
      assert.deepEqual(await meta.collection.deadManifests(clock.now() - HOUR, -1), [], "so it is kept for a whole grace period");
      clock.advance(2 * HOUR);
      assert.deepEqual((await meta.collection.deadManifests(clock.now() - HOUR, -1)).map((m) => m.digest), [manifest.digest]);
    });

    withMeta("mark: tags, young manifests, index children and referrers of live manifests are live", async (meta, clock) => {
      const child = await pushImage(meta, "cvi/a", "child");
      const index = manifestOf("index", [], [child.digest]);
      assert.equal(await meta.manifests.put("cvi/a", index, ["v1"], { blobs: [], manifests: [{ digest: child.digest, size: child.content.length }] }), undefined);
      const referrer = manifestOf("sbom", [], [], index.digest);
      assert.equal(await meta.manifests.put("cvi/a", referrer, [], { blobs: [], manifests: [] }), undefined);
      const loose = await pushImage(meta, "cvi/a", "loose");
      assert.deepEqual(await meta.collection.deadManifests(clock.now() - HOUR, -1), [], "everything is young");
      clock.advance(2 * HOUR);
      const dead = await meta.collection.deadManifests(clock.now() - HOUR, -1);
      assert.deepEqual(dead.map((m) => m.digest), [loose.digest]);
      assert.equal(dead[0]!.repository, "cvi/a");
    });

    withMeta("sweep: a dead manifest and the blobs only it held go in one run; referenced blobs stay", async (meta, clock) => {
      const shared = digest("shared");
      const kept = await pushImage(meta, "cvi/a", "kept", ["v1"], [shared]);
      const lone = digest("lone");
      const dead = await pushImage(meta, "cvi/a", "dead", [], [shared, lone]);
      clock.advance(2 * HOUR);
      const cutoff = clock.now() - HOUR;
      assert.deepEqual((await meta.collection.deleteDeadManifests(cutoff, 500)).map((m) => m.digest), [dead.digest]);
      assert.equal(await meta.manifests.get("cvi/a", kept.digest) !== undefined, true);
      assert.deepEqual(await meta.collection.collectableBlobs(cutoff, "", 500), [{ digest: lone, size: 10 }]);
      assert.deepEqual(await meta.collection.reclaimable(cutoff), { bytes: 10, blobs: 1 });
      assert.equal(await meta.collection.deleteBlobIfCollectable(shared, cutoff), undefined, "a referenced blob is never deleted");
      assert.equal(await meta.collection.deleteBlobIfCollectable(lone, cutoff), 10);
      assert.equal(await meta.blobs.sizeOf(lone), undefined);
      assert.deepEqual(await meta.blobs.holders(lone), [], "its links went with the row");
      assert.equal(await meta.collection.deleteBlobIfCollectable(lone, cutoff), undefined);
    });

    withMeta("sweep re-checks: a blob re-pushed after the mark is kept", async (meta, clock) => {
      const blob = digest("again");
      await commitBlob(meta, "cvi/a", blob);
      clock.advance(2 * HOUR);
      const cutoff = clock.now() - HOUR;
      assert.deepEqual(await meta.collection.collectableBlobs(cutoff, "", 500), [{ digest: blob, size: 10 }]);
      await commitBlob(meta, "cvi/b", blob);
      assert.equal(await meta.collection.deleteBlobIfCollectable(blob, cutoff), undefined);
      assert.equal(await meta.blobs.sizeOf(blob), 10);
    });

    withMeta("repositories: owners' repositories with activity; idle ones deleted with their blobs reclaimable at once", async (meta, clock) => {
      await pushImage(meta, "cvi/old", "old", ["v1"]);
      await pushImage(meta, "other/x", "x", ["v1"]);
      clock.advance(2 * HOUR);
      await pushImage(meta, "vi/ns/new", "new", ["v1"]);
      const owned = await meta.repositories.owned();
      assert.deepEqual(owned.map((r) => r.name), ["cvi/old", "vi/ns/new"]);
      assert.equal(owned[1]!.lastActivity, clock.now());
      const cutoff = clock.now() - HOUR;
      assert.equal(await meta.repositories.deleteIfIdle("vi/ns/new", cutoff), false, "active within the grace period");
      assert.equal(await meta.repositories.deleteIfIdle("cvi/old", cutoff), true);
      assert.equal(await meta.repositories.exists("cvi/old"), false);
      assert.deepEqual((await meta.collection.collectableBlobs(cutoff, "", 500)).map((b) => b.digest), [digest("old-layer")]);
      assert.deepEqual(await meta.repositories.delete("vi/ns/new"), { manifests: 1, tags: 1 });
      assert.equal(await meta.repositories.delete("vi/ns/new"), undefined);
      assert.deepEqual(await meta.collection.collectableBlobs(cutoff, "", 500), [{ digest: digest("old-layer"), size: 10 }], "an admin's delete restarts the clocks");
    });

    withMeta("blob pages (scrub) and forgetting a blob whatever references it", async (meta) => {
      const [a, b] = [digest("a"), digest("b")].sort() as [string, string];
      await commitBlob(meta, "r/one", a);
      await commitBlob(meta, "r/two", b);
      assert.deepEqual(await meta.blobs.page("", 10), [
        { digest: a, size: 10 },
        { digest: b, size: 10 },
      ]);
      assert.deepEqual(await meta.blobs.page(a, 10), [{ digest: b, size: 10 }]);
      assert.deepEqual(await meta.blobs.page("", 10, "r/one"), [{ digest: a, size: 10 }]);
      assert.equal(await meta.blobs.forget(a), true);
      assert.equal(await meta.blobs.linked("r/one", a), undefined);
      assert.equal(await meta.blobs.forget(a), false);
    });

    withMeta("disk index: rows live as long as a manifest of their digest, found by tag and by digest", async (meta) => {
      const m = await pushImage(meta, "cvi/a", "disk", ["latest"]);
      await pushImage(meta, "vi/ns/b", "disk", ["v1"]);
      assert.deepEqual((await meta.diskImages.pending(1, 10)).map((p) => p.digest), [m.digest]);
      await meta.diskImages.save(m.digest, diskRow());
      assert.deepEqual(await meta.diskImages.get(m.digest), diskRow());
      assert.deepEqual(await meta.diskImages.pending(1, 10), []);
      assert.deepEqual((await meta.diskImages.pending(2, 10)).map((p) => p.digest), [m.digest], "older inspector versions are redone");
      assert.equal((await meta.diskImages.byTag("cvi/a", "latest"))?.image?.format, "qcow2");
      assert.equal((await meta.diskImages.byManifest("vi/ns/b", m.digest))?.tag, "v1");
      assert.deepEqual((await meta.diskImages.listTagged({ limit: 10 })).map((t) => `${t.repository}:${t.tag}`), ["cvi/a:latest", "vi/ns/b:v1"]);
      assert.deepEqual((await meta.diskImages.listTagged({ repositoryPrefix: "vi/", format: "qcow2", limit: 10 })).map((t) => t.repository), ["vi/ns/b"]);
      assert.equal((await meta.diskImages.allTagged()).length, 2);
      assert.equal((await meta.diskImages.manifestContent(m.digest))?.content.toString(), m.content.toString());
      assert.deepEqual((await meta.diskImages.manifestsAfter("", 10)).map((p) => p.digest), [m.digest]);
      await meta.manifests.delete("cvi/a", m.digest);
      assert.notEqual(await meta.diskImages.get(m.digest), null, "vi/ns/b still holds it");
      await meta.repositories.delete("vi/ns/b");
      assert.equal(await meta.diskImages.get(m.digest), null, "gone with the last manifest");
      await meta.diskImages.save(m.digest, diskRow());
      assert.equal(await meta.diskImages.get(m.digest), null, "a late save of a deleted manifest leaves no row");
      assert.equal(await meta.diskImages.removeOrphans(), 0);
    });

    withMeta("objects: create, replace on the read resourceVersion only, remove; one counter over all writes", async (meta) => {
      const R = "clustervirtualimages.virtualization.deckhouse.io";
      const a = await meta.objects.put(R, kubeObject("a", { x: 1 }), null);
      assert.equal(a.metadata.resourceVersion, "1");
      await rejectsWith(meta.objects.put(R, kubeObject("a"), null), (e) => e instanceof StoreConflict && e.kind === "exists", "created twice");
      const b = await meta.objects.put(R, kubeObject("b"), null);
      assert.equal(b.metadata.resourceVersion, "2");
      await rejectsWith(meta.objects.put(R, { ...a, spec: { x: 2 } }, "9"), (e) => e instanceof StoreConflict && e.kind === "stale", "stale version");
      await rejectsWith(meta.objects.put(R, kubeObject("c"), "1"), (e) => e instanceof StoreConflict && e.kind === "missing", "replace of nothing");
      const a2 = await meta.objects.put(R, { ...a, spec: { x: 2 } }, "1");
      assert.equal(a2.metadata.resourceVersion, "3");
      assert.deepEqual((await meta.objects.get(R, "a"))?.spec, { x: 2 });
      assert.equal(await meta.objects.get("other.resource", "a"), undefined, "resources are separate");
      const list = await meta.objects.list(R);
      assert.deepEqual(list.items.map((o) => o.metadata.name), ["a", "b"], "listed by name");
      assert.equal(list.resourceVersion, 3);
      await rejectsWith(meta.objects.remove(R, "a", "1"), (e) => e instanceof StoreConflict && e.kind === "stale", "remove on a stale version");
      const gone = await meta.objects.remove(R, "a", "3");
      assert.equal(gone.metadata.resourceVersion, "4", "a removal takes a resourceVersion too");
      assert.equal(await meta.objects.get(R, "a"), undefined);
      await rejectsWith(meta.objects.remove(R, "a", "4"), (e) => e instanceof StoreConflict && e.kind === "missing", "removed twice");
    });

    withMeta("objects: the change log replays after a resourceVersion, subscribers hear commits in order", async (meta) => {
      const R = "clustervirtualimages.virtualization.deckhouse.io";
      const heard: string[] = [];
      const unsubscribe = meta.objects.subscribe((c: ObjectChange) => heard.push(`${c.type} ${c.object.metadata.name} ${c.resourceVersion}`));
      const a = await meta.objects.put(R, kubeObject("a"), null);
      await meta.objects.put("other.resource", kubeObject("z"), null);
      await meta.objects.put(R, { ...a, spec: { y: 1 } }, a.metadata.resourceVersion);
      await meta.objects.remove(R, "a", "3");
      unsubscribe();
      await meta.objects.put(R, kubeObject("b"), null);
      assert.deepEqual(heard, ["ADDED a 1", "ADDED z 2", "MODIFIED a 3", "DELETED a 4"], "every resource, until unsubscribed");
      const since = (rv: number) => meta.objects.changesSince(R, rv).then((cs) => cs.map((c) => `${c.type} ${c.object.metadata.name} ${c.resourceVersion}`));
      assert.deepEqual(await since(0), ["ADDED a 1", "MODIFIED a 3", "DELETED a 4", "ADDED b 5"]);
      assert.deepEqual(await since(3), ["DELETED a 4", "ADDED b 5"]);
      assert.deepEqual(await since(5), []);
      const deleted = (await meta.objects.changesSince(R, 3))[0]!;
      assert.equal(deleted.object.metadata.resourceVersion, "4", "DELETED carries the deletion's resourceVersion");
      assert.deepEqual(deleted.object.spec, { y: 1 }, "and the object as it was last");
    });

    test("objects: changes beyond the retention are compacted; asking before them is ResourceVersionTooOld", async () => {
      const meta = await factory.open(new ManualClock(), { retainObjectChanges: 3 });
      try {
        const R = "clustervirtualimages.virtualization.deckhouse.io";
        for (const name of ["a", "b", "c", "d", "e"]) await meta.objects.put(R, kubeObject(name), null);
        await rejectsWith(meta.objects.changesSince(R, 1), (e) => e instanceof ResourceVersionTooOld, "compacted away");
        assert.deepEqual((await meta.objects.changesSince(R, 2)).map((c) => c.resourceVersion), [3, 4, 5]);
        assert.equal((await meta.objects.list(R)).items.length, 5, "objects themselves are kept");
      } finally {
        await meta.close();
      }
    });
  });
}
