import assert from "node:assert/strict";
import { createReadStream, mkdirSync, openSync, writeSync, closeSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_CONFIG } from "../../src/config/config.js";
import { importImage } from "../../src/importer/index.js";
import { curl, cviConfig, readyCondition, untilPhase } from "../helpers/cvi.js";
import { startFileServer, type FileServer } from "../helpers/file-server.js";
import { FAST, publishDisk, pullImage, uploadSessions, type PublishedDisk } from "../helpers/importer.js";
import { cviYaml, Kubectl, KUBECTL_CURRENT } from "../helpers/kubectl.js";
import { runGc, runScrub } from "../helpers/ops.js";
import { startReferenceRegistry, type ReferenceRegistry } from "../helpers/reference-registry.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";
import { TestClient } from "../helpers/client.js";
import { mountTmpfs } from "../helpers/volume.js";

const MiB = 1024 * 1024;
const ALICE = { username: "alice", password: "alice-Secret-9" };

/** `<dir>/<namespace>/<name>/.dockerconfigjson`, as a mounted kubernetes.io/dockerconfigjson Secret looks. */
function writePullSecret(dir: string, namespace: string, name: string, host: string, user: { username: string; password: string }): void {
  const folder = path.join(dir, namespace, name);
  mkdirSync(folder, { recursive: true });
  const auth = Buffer.from(`${user.username}:${user.password}`).toString("base64");
  writeFileSync(path.join(folder, ".dockerconfigjson"), JSON.stringify({ auths: { [host]: { auth } } }));
}

function blobFile(root: string, digest: string): string {
  const hex = digest.slice("sha256:".length);
  return path.join(root, "blobs", "sha256", hex.slice(0, 2), hex);
}

describe("ClusterVirtualImage sources, uploads and the registry underneath", () => {
  let server: TestServer;
  let reference: ReferenceRegistry;
  let files: FileServer;
  let k: Kubectl;
  let disk: PublishedDisk;
  let secrets: string;
  let root: string;

  before(async () => {
    const work = tempDir("dvcr-cvi-sources-");
    secrets = path.join(work, "secrets");
    root = path.join(work, "root");
    disk = await publishDisk(path.join(work, "disk"), "qcow2", 3 * MiB, "xz");
    reference = await startReferenceRegistry({ [ALICE.username]: ALICE.password });
    // DVCR's importer pushed this image into the source registry (the compressed disk as it came).
    await importImage({
      source: { type: "file", path: disk.file },
      destination: { registry: reference.url, repository: "images/ubuntu", tag: "24.04", credentials: ALICE },
      tuning: FAST,
    });
    writePullSecret(secrets, "team", "registry-creds", reference.host, ALICE);
    files = await startFileServer(path.dirname(disk.file));
    server = await startTestServer({ ...cviConfig({ secretsDir: secrets }) }, root);
    k = new Kubectl(KUBECTL_CURRENT, server.url);
  });
  after(async () => {
    k.dispose();
    await server.dispose();
    await reference.stop();
    await files.close();
  });

  it("ContainerImage with an imagePullSecret from the secrets folder reaches Ready with the disk's format; without the secret it waits with a reason", async () => {
    const image = `${reference.host}/images/ubuntu:24.04`;
    await k.ok(["apply", "-f", "-"], {
      input: cviYaml("from-registry", `    type: ContainerImage\n    containerImage:\n      image: ${image}\n      imagePullSecret:\n        name: registry-creds\n        namespace: team\n`),
    });
    const o = await untilPhase(k, "from-registry", "Ready");
    assert.equal(o.status.format, "qcow2");
    assert.ok(Number(o.status.size.unpackedBytes) > 0, JSON.stringify(o.status.size));
    const pulled = await pullImage(server.url, "cvi/from-registry");
    assert.equal(pulled.disk.digest, disk.disk.digest, "the pulled disk is the decompressed source");

    await k.ok(["apply", "-f", "-"], {
      input: cviYaml("no-secret", `    type: ContainerImage\n    containerImage:\n      image: ${image}\n      imagePullSecret:\n        name: missing\n        namespace: team\n`),
    });
    const waiting = await untilPhase(k, "no-secret", "Pending", 10_000).catch(() => untilPhase(k, "no-secret", "Provisioning", 10_000));
    const datasource = waiting.status.conditions.find((c: { type: string }) => c.type === "DatasourceReady");
    assert.equal(datasource.reason, "ContainerRegistrySecretNotFound");
    assert.match(datasource.message, /team\/missing not found/);

    await k.ok(["apply", "-f", "-"], { input: cviYaml("anonymous", `    type: ContainerImage\n    containerImage:\n      image: ${image}\n`) });
    const failed = await untilPhase(k, "anonymous", "Failed");
    assert.equal(readyCondition(failed).reason, "ProvisioningFailed");
    assert.match(readyCondition(failed).message, /401|unauthori[sz]ed|denied/i);
  });

  it("a chunked upload (curl -T - from a pipe, no Content-Length) streams in and is decompressed like an import", async () => {
    await k.ok(["apply", "-f", "-"], { input: cviYaml("piped", "    type: Upload\n") });
    const url = (await untilPhase(k, "piped", "WaitForUserUpload")).status.imageUploadURLs.external as string;
    const up = await curl(["-s", "-T", "-", url, "-o", "/dev/null", "-w", "%{http_code}"], createReadStream(disk.file));
    assert.equal(up.stdout, "200", up.stderr);
    const o = await untilPhase(k, "piped", "Ready");
    assert.equal(o.status.format, "qcow2");
    assert.equal((await pullImage(server.url, "cvi/piped")).disk.digest, disk.disk.digest);
  });

  it("a keep-list GC never removes the repository of an existing ClusterVirtualImage, and removes the ones without", async () => {
    await k.ok(["apply", "-f", "-"], { input: cviYaml("kept", `    type: HTTP\n    http:\n      url: ${files.url(disk.fileName)}\n`) });
    await untilPhase(k, "kept", "Ready");
    const client = new TestClient(server.url);
    await client.pushImage("cvi/orphan", "latest");
    const report = await runGc(client, { grace: 0, keepRepositories: [] });
    assert.ok(report.repositories.deleted.includes("cvi/orphan"), JSON.stringify(report.repositories));
    for (const name of ["cvi/kept", "cvi/from-registry", "cvi/piped"]) assert.ok(!report.repositories.deleted.includes(name), `${name} kept`);
    assert.equal((await fetch(`${server.url}/v2/cvi/kept/manifests/latest`, { method: "HEAD" })).status, 200);
    assert.equal((await k.ok(["get", "cvi", "kept", "-o", "jsonpath={.status.phase}"])), "Ready");
  });

  it("goes ImageLost when scrub finds a layer corrupt, and when an admin deletes the repository", async () => {
    await k.ok(["apply", "-f", "-"], { input: cviYaml("scrubbed", `    type: HTTP\n    http:\n      url: ${files.url(disk.fileName)}\n`) });
    const ready = await untilPhase(k, "scrubbed", "Ready");
    assert.equal(ready.status.phase, "Ready");
    const pulled = await pullImage(server.url, "cvi/scrubbed");
    const layer = pulled.layer.digest;
    // Flip bytes in the middle of the stored layer, as a failing disk would.
    const fd = openSync(blobFile(root, layer), "r+");
    writeSync(fd, randomBytes(4096), 0, 4096, 1024 * 1024);
    closeSync(fd);
    const scrub = await runScrub(new TestClient(server.url), { repair: true });
    assert.ok(JSON.stringify(scrub).includes(layer), "scrub reports the corrupt layer");
    const lost = await untilPhase(k, "scrubbed", "ImageLost", 5_000);
    assert.equal(readyCondition(lost).reason, "ImageLost");
    assert.match(readyCondition(lost).message, /re-create the ClusterVirtualImage/);

    const res = await fetch(`${server.url}/api/v1/repositories/cvi/kept`, { method: "DELETE" });
    assert.equal(res.status, 200, await res.text());
    await untilPhase(k, "kept", "ImageLost", 5_000);
  });
});

describe("ClusterVirtualImage on a full volume", () => {
  it("fails with DVCR's out-of-space message, keeps no upload session, and the next image fits once there is room", async () => {
    const volume = mountTmpfs(48);
    const work = tempDir("dvcr-cvi-full-");
    let server: TestServer | undefined;
    let files: FileServer | undefined;
    try {
      // Random bytes (nothing to gain by compression anywhere on the way) after a blank first
      // sector, as a raw disk begins.
      const rawDisk = (bytes: number) => Buffer.concat([Buffer.alloc(512), randomBytes(bytes - 512)]);
      writeFileSync(path.join(work, "big.img"), rawDisk(64 * MiB));
      writeFileSync(path.join(work, "small.img"), rawDisk(4 * MiB));
      files = await startFileServer(work);
      server = await startTestServer({ ...cviConfig(), storage: { ...DEFAULT_CONFIG.storage, reserve: { bytes: 4 * MiB, percent: 0 } } }, path.join(volume.dir, "root"));
      const kubectl = new Kubectl(KUBECTL_CURRENT, server.url);
      try {
        await kubectl.ok(["apply", "-f", "-"], { input: cviYaml("too-big", `    type: HTTP\n    http:\n      url: ${files.url("big.img")}\n`) });
        const failed = await untilPhase(kubectl, "too-big", "Failed", 60_000);
        assert.equal(readyCondition(failed).reason, "ProvisioningFailed");
        assert.match(readyCondition(failed).message, /DVCR is out of space/);
        assert.equal(await uploadSessions(server.url), 0, "the failed import's upload session is gone");
        await kubectl.ok(["apply", "-f", "-"], { input: cviYaml("fits", `    type: HTTP\n    http:\n      url: ${files.url("small.img")}\n`) });
        await untilPhase(kubectl, "fits", "Ready", 60_000);
      } finally {
        kubectl.dispose();
      }
    } finally {
      await server?.dispose();
      await files?.close();
      volume.dispose();
    }
  });
});
