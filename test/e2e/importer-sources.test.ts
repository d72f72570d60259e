import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, openSync, readSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { importImage, ImportError, type ImportProgress } from "../../src/importer/index.js";
import { MediaType } from "../../src/oci/index.js";
import { createAuthFixture, basic } from "../helpers/auth.js";
import { AuthClient } from "../helpers/auth.js";
import { sha256 } from "../helpers/client.js";
import { assertResentFromSession, startCuttingProxy } from "../helpers/cutting-proxy.js";
import { tarLayer } from "../helpers/disk-images.js";
import { expectedLabels, FAST, manifestStatus, publishDisk, pullImage, uploadSessions, type PublishedDisk } from "../helpers/importer.js";
import { startReferenceRegistry, type ReferenceRegistry } from "../helpers/reference-registry.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";

const MiB = 1024 * 1024;
const ALICE = { username: "alice", password: "alice-Secret-9" };

let dvcr: TestServer;
let reference: ReferenceRegistry;
let work: string;
let disk: PublishedDisk;

before(async () => {
  dvcr = await startTestServer();
  reference = await startReferenceRegistry({ [ALICE.username]: ALICE.password });
  work = tempDir("dvcr-import-sources-");
  disk = await publishDisk(path.join(work, "disk"), "qcow2", 5 * MiB);
});
after(async () => {
  await dvcr.dispose();
  await reference.stop();
});

/** Push an image of arbitrary layers into the reference registry, as podman would (OCI manifest). */
async function pushToReference(repository: string, layers: { bytes: Buffer; mediaType: string }[], labels: Record<string, string> = {}): Promise<void> {
  const client = new AuthClient(reference.url, basic(ALICE.username, ALICE.password));
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: { Labels: labels }, rootfs: { type: "layers", diff_ids: layers.map((l) => sha256(l.bytes)) } }));
  for (const blob of [config, ...layers.map((l) => l.bytes)]) await client.pushBlob(repository, blob);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: sha256(l.bytes), size: l.bytes.length })),
  };
  const res = await client.pushManifest(repository, "latest", JSON.stringify(manifest), MediaType.OciManifest);
  assert.equal(res.status, 201, await res.text());
}

describe("importer: registry sources (the reference registry 2.8 with htpasswd auth)", () => {
  test("an importer-shaped image is copied blob for blob: the layer keeps its digest", async () => {
    // Our importer pushes into the reference first (Basic auth, chunked PATCHes on distribution 2.8).
    const pushed = await importImage({
      source: { type: "file", path: disk.file },
      destination: { registry: reference.url, repository: "src/shaped", tag: "latest", credentials: ALICE },
      tuning: { ...FAST, chunkBytes: 2 * MiB },
    });
    const result = await importImage({
      source: { type: "registry", image: `docker://${reference.host}/src/shaped:latest`, credentials: ALICE },
      destination: { registry: dvcr.url, repository: "cvi/from-registry", tag: "latest" },
      tuning: FAST,
    });
    assert.equal(result.sourceImageFormat, "qcow2");
    assert.equal(result.sourceImageSize, disk.disk.size);
    const pulled = await pullImage(dvcr.url, "cvi/from-registry");
    assert.equal(pulled.disk.digest, disk.disk.digest);
    assert.deepEqual(pulled.labels, await expectedLabels(disk.disk));
    const sourceManifest = await new AuthClient(reference.url, basic(ALICE.username, ALICE.password)).fetch(`/v2/src/shaped/manifests/${pushed.manifestDigest}`, { headers: { Accept: MediaType.DockerManifest } });
    const sourceLayer = ((await sourceManifest.json()) as { layers: { digest: string }[] }).layers[0]!.digest;
    assert.equal(pulled.layer.digest, sourceLayer, "the layer blob was copied as it is");
    assert.equal(pulled.manifest.manifest.config.size + pulled.layer.size, result.storedBytes);
    assert.equal(result.manifestDigest, pulled.manifest.digest);
  });

  test("a copy cut mid-segment reads the rest again from where the session stands; progress counts each byte once", async () => {
    await importImage({
      source: { type: "file", path: disk.file },
      destination: { registry: reference.url, repository: "src/shaped-cut", tag: "latest", credentials: ALICE },
      tuning: FAST,
    });
    let patches = 0;
    const proxy = await startCuttingProxy(dvcr.url, (req) => req.method === "PATCH" && ++patches === 2);
    const reports: ImportProgress[] = [];
    try {
      await importImage({
        source: { type: "registry", image: `docker://${reference.host}/src/shaped-cut:latest`, credentials: ALICE },
        destination: { registry: proxy.url, repository: "cvi/copy-cut", tag: "latest" },
        tuning: { ...FAST, copySegmentBytes: 2 * MiB },
        onProgress: (p) => reports.push(p),
      });
      const sent = proxy.requests.filter((r) => r.method === "PATCH");
      assert.equal(sent[0]!.contentRange, `0-${2 * MiB - 1}`, "segments of copySegmentBytes");
      assertResentFromSession(proxy);
    } finally {
      await proxy.close();
    }
    const pulled = await pullImage(dvcr.url, "cvi/copy-cut");
    assert.equal(pulled.disk.digest, disk.disk.digest);
    const last = reports.at(-1)!;
    assert.equal(last.bytes, pulled.layer.size, "the re-read bytes are not counted twice");
    assert.equal(last.percent, 100);
  });

  test("a source blob that does not match its digest fails as corrupt; nothing is tagged", async () => {
    const pushed = await importImage({
      source: { type: "file", path: disk.file },
      destination: { registry: reference.url, repository: "src/damaged", tag: "latest", credentials: ALICE },
      tuning: FAST,
    });
    const manifest = await new AuthClient(reference.url, basic(ALICE.username, ALICE.password)).fetch(`/v2/src/damaged/manifests/${pushed.manifestDigest}`, { headers: { Accept: MediaType.DockerManifest } });
    const layer = ((await manifest.json()) as { layers: { digest: string; size: number }[] }).layers[0]!;
    const hex = layer.digest.slice("sha256:".length);
    const file = path.join(reference.dataDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
    // One byte of the disk's data flipped in the reference's own file: it serves what it holds.
    const fd = openSync(file, "r+");
    const at = Math.floor(layer.size / 2);
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, at);
    closeSync(fd);
    const failed = await importImage({
      source: { type: "registry", image: `docker://${reference.host}/src/damaged:latest`, credentials: ALICE },
      destination: { registry: dvcr.url, repository: "cvi/damaged", tag: "latest" },
      tuning: FAST,
    }).catch((e: unknown) => e as ImportError);
    assert.ok(failed instanceof ImportError && failed.kind === "corrupt", String(failed));
    assert.match(failed.message, /did not arrive intact/);
    assert.equal(await manifestStatus(dvcr.url, "cvi/damaged"), 404);
    assert.equal(await uploadSessions(dvcr.url), 0, "the upload session was cancelled");
  });

  test("a podman-style image (gzip layers, disk below a later layer) is repacked; a docker config JSON supplies the credentials", async () => {
    const diskLayer = await tarLayer([{ name: "disk/", type: "directory" }, { name: `disk/${disk.disk.fileName}`, file: disk.disk.path }], true);
    const topLayer = await tarLayer([{ name: "etc/", type: "directory" }, { name: "etc/motd", data: Buffer.from("hello\n") }], true);
    await pushToReference("src/podman", [
      { bytes: diskLayer, mediaType: MediaType.OciLayerTarGzip },
      { bytes: topLayer, mediaType: MediaType.OciLayerTarGzip },
    ]);
    const authFile = path.join(work, "config.json");
    writeFileSync(authFile, JSON.stringify({ auths: { [reference.host]: { auth: Buffer.from(`${ALICE.username}:${ALICE.password}`).toString("base64") } } }));
    const result = await importImage({
      source: { type: "registry", image: `${reference.host}/src/podman:latest`, authFile },
      destination: { registry: dvcr.url, repository: "cvi/from-podman", tag: "latest" },
      tuning: FAST,
    });
    const pulled = await pullImage(dvcr.url, "cvi/from-podman");
    assert.equal(pulled.layer.mediaType, MediaType.DockerLayerTar, "repacked uncompressed");
    assert.equal(pulled.disk.digest, disk.disk.digest);
    assert.equal(result.sourceImageFormat, "qcow2");
  });

  test("a layer holding the compressed source (as DVCR's importer pushes) is unpacked", async () => {
    const xz = await publishDisk(path.join(work, "inner-xz"), "vdi", 2 * MiB, "xz");
    const layer = await tarLayer([{ name: "disk", type: "directory" }, { name: `disk/${xz.fileName}`, file: xz.file }]);
    await pushToReference("src/dvcr-style", [{ bytes: layer, mediaType: MediaType.DockerLayerTar }]);
    const result = await importImage({
      source: { type: "registry", image: `${reference.host}/src/dvcr-style`, credentials: ALICE },
      destination: { registry: dvcr.url, repository: "cvi/from-dvcr-style", tag: "latest" },
      tuning: FAST,
    });
    assert.equal(result.sourceImageFormat, "vdi");
    assert.equal(result.sourceCompression, "xz");
    const pulled = await pullImage(dvcr.url, "cvi/from-dvcr-style");
    assert.equal(pulled.entries[1]!.name, `disk/${xz.disk.fileName}`, ".xz dropped from the name");
    assert.equal(pulled.disk.digest, xz.disk.digest);
  });

  test("wrong credentials fail as forbidden, a missing image as not-found", async () => {
    const denied = await importImage({
      source: { type: "registry", image: `${reference.host}/src/shaped:latest`, credentials: { username: "alice", password: "wrong" } },
      destination: { registry: dvcr.url, repository: "cvi/denied", tag: "latest" },
      tuning: FAST,
    }).catch((e: unknown) => e as ImportError);
    assert.ok(denied instanceof ImportError && denied.kind === "forbidden", String(denied));
    const missing = await importImage({
      source: { type: "registry", image: `${reference.host}/src/nothing:latest`, credentials: ALICE },
      destination: { registry: dvcr.url, repository: "cvi/missing", tag: "latest" },
      tuning: FAST,
    }).catch((e: unknown) => e as ImportError);
    assert.ok(missing instanceof ImportError && missing.kind === "not-found", String(missing));
  });
});

describe("importer: dvcr sources and destinations", () => {
  test("another repository of the destination is mounted: zero blob bytes sent", async () => {
    await importImage({ source: { type: "file", path: disk.file }, destination: { registry: dvcr.url, repository: "cvi/original", tag: "latest" }, tuning: FAST });
    const proxy = await startCuttingProxy(dvcr.url, () => false);
    try {
      const result = await importImage({
        source: { type: "dvcr", repository: "cvi/original", reference: "latest" },
        destination: { registry: proxy.url, repository: "vi/ns/copy", tag: "latest" },
        tuning: FAST,
      });
      const original = await pullImage(dvcr.url, "cvi/original");
      assert.equal(result.manifestDigest, original.manifest.digest);
      assert.equal(result.sourceImageFormat, "qcow2");
      assert.equal(result.sourceImageSize, disk.disk.size);
      const writes = proxy.requests.filter((r) => r.method === "PATCH" || (r.method === "PUT" && r.path.includes("/blobs/")));
      assert.deepEqual(writes, [], "no blob bytes uploaded");
      assert.equal(proxy.requests.filter((r) => r.method === "POST" && r.path.includes("mount=") && r.status === 201).length, 2);
      assert.equal((await pullImage(dvcr.url, "vi/ns/copy")).disk.digest, disk.disk.digest);
    } finally {
      await proxy.close();
    }
  });

  test("a destination with the token flow (WWW-Authenticate: Bearer) and htpasswd credentials", async () => {
    const fixture = createAuthFixture({ [ALICE.username]: ALICE.password });
    const secured = await startTestServer({ auth: { ...fixture.auth, token: { service: "dvcr", expiresIn: 300 } } as never });
    const proxy = await startCuttingProxy(secured.url, () => false);
    try {
      const result = await importImage({
        source: { type: "file", path: disk.file },
        destination: { registry: proxy.url, repository: "cvi/secured", tag: "latest", credentials: ALICE },
        tuning: FAST,
      });
      assert.ok(result.manifestDigest.startsWith("sha256:"));
      assert.ok(proxy.requests.some((r) => r.path.startsWith("/auth/token") && r.status === 200), "a token was fetched");
      const denied = await importImage({
        source: { type: "file", path: disk.file },
        destination: { registry: secured.url, repository: "cvi/secured2", tag: "latest" },
        tuning: FAST,
      }).catch((e: unknown) => e as ImportError);
      assert.ok(denied instanceof ImportError && denied.kind === "forbidden", String(denied));
    } finally {
      await proxy.close();
      await secured.dispose();
      execFileSync("rm", ["-rf", fixture.dir]);
    }
  });
});
