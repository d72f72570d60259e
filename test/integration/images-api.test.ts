import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { errorCodes, TestClient } from "../helpers/client.js";
import { convert, diskLayer, makeIso, makeRaw, md5sum, qemuInfo, sha256sum, tarLayer } from "../helpers/disk-images.js";
import { pushDiskImage, waitForImage } from "../helpers/disk-push.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";

describe("disk-image index API", () => {
  let server: TestServer;
  let client: TestClient;
  let dir: string;
  let qcow2: string;
  let iso: string;
  let vmdk: string;
  let qcow2Layer: Buffer;

  before(async () => {
    server = await startTestServer();
    client = new TestClient(server.url);
    dir = tempDir("dvcr-images-");
    const raw = makeRaw(dir, "src.raw", "48M", 2 * 1024 * 1024);
    qcow2 = convert(raw, path.join(dir, "ubuntu.qcow2"), "qcow2");
    vmdk = convert(raw, path.join(dir, "data.vmdk"), "vmdk", "-o", "subformat=streamOptimized");
    iso = makeIso(dir, "installer.iso", "INSTALLER");
    qcow2Layer = await diskLayer(qcow2);
  });
  after(async () => {
    await server.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a ClusterVirtualImage qcow2: format, sizes, checksums and labels, as qemu-img and sha256sum see them", async () => {
    const info = qemuInfo(qcow2);
    const size = statSync(qcow2).size;
    const labels = { "source-image-size": String(size), "source-image-virtual-size": String(info.virtualSize), "source-image-format": "qcow2" };
    const pushed = await pushDiskImage(client, "cvi/ubuntu", "latest", qcow2Layer, { labels, flavour: "docker" });
    const entry = await waitForImage(client, "cvi/ubuntu");
    assert.deepEqual(
      { ...entry, createdAt: undefined, indexedAt: undefined, details: undefined },
      {
        repository: "cvi/ubuntu",
        tag: "latest",
        digest: pushed.manifestDigest,
        kind: "ClusterVirtualImage",
        name: "ubuntu",
        namespace: null,
        status: "ready",
        format: "qcow2",
        reason: null,
        virtualSize: info.virtualSize,
        storedSize: pushed.layerSize,
        unpackedSize: size,
        diskFile: "disk/ubuntu.qcow2",
        cdrom: false,
        compression: null,
        sha256: sha256sum(qcow2),
        md5: md5sum(qcow2),
        createdAt: undefined,
        indexedAt: undefined,
        labels: { ...labels },
        labelMismatch: [],
        details: undefined,
      },
    );
    assert.ok(!Number.isNaN(Date.parse(entry.createdAt)));
    assert.ok(entry.indexedAt && Date.parse(entry.indexedAt) >= Date.parse(entry.createdAt));
    assert.equal(entry.details?.version, 3);
    // The default tag is latest; the same entry by tag and by digest.
    assert.deepEqual(await waitForImage(client, "cvi/ubuntu", "?tag=latest"), entry);
    assert.deepEqual(await waitForImage(client, "cvi/ubuntu", `?digest=${pushed.manifestDigest}`), entry);
  });

  test("a VirtualImage ISO in a gzip layer is a CD-ROM; a VirtualDisk vmdk is owned by its namespace", async () => {
    await pushDiskImage(client, "vi/prod/installer", "latest", await diskLayer(iso, "installer.iso", true), { gzip: true });
    const cd = await waitForImage(client, "vi/prod/installer");
    assert.equal(cd.kind, "VirtualImage");
    assert.equal(cd.namespace, "prod");
    assert.equal(cd.name, "installer");
    assert.equal(cd.format, "iso");
    assert.equal(cd.cdrom, true);
    assert.equal(cd.virtualSize, qemuInfo(iso).virtualSize);
    assert.equal(cd.sha256, sha256sum(iso));

    await pushDiskImage(client, "vd/prod/data", "latest", await diskLayer(vmdk));
    const disk = await waitForImage(client, "vd/prod/data");
    assert.equal(disk.kind, "VirtualDisk");
    assert.equal(disk.format, "vmdk");
    assert.equal(disk.virtualSize, qemuInfo(vmdk).virtualSize);
    assert.equal(disk.details?.createType, "streamOptimized");
  });

  test("labels that disagree with the disk are flagged", async () => {
    const labels = { "source-image-size": "1", "source-image-virtual-size": String(qemuInfo(qcow2).virtualSize), "source-image-format": "raw" };
    await pushDiskImage(client, "cvi/relabelled", "latest", qcow2Layer, { labels });
    const entry = await waitForImage(client, "cvi/relabelled");
    assert.equal(entry.format, "qcow2");
    assert.deepEqual(entry.labelMismatch, ["source-image-size", "source-image-format"]);
  });

  test("manifests that are not disk images: format null with a reason", async () => {
    await client.pushImage("library/app", "v1", randomBytes(2048));
    const notTar = await waitForImage(client, "library/app", "?tag=v1");
    assert.equal(notTar.kind, "Image");
    assert.equal(notTar.name, "library/app");
    assert.equal(notTar.format, null);
    assert.match(notTar.reason ?? "", /not a valid tar archive/);

    await pushDiskImage(client, "library/tools", "v1", await tarLayer([{ name: "usr/bin/tool", data: Buffer.from("#!/bin/sh\n") }]));
    assert.match((await waitForImage(client, "library/tools", "?tag=v1")).reason ?? "", /no layer holds a disk\/<file>/);

    const child = await client.pushImage("library/multi", "amd64", randomBytes(64));
    const index = { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: child.digest, size: child.size }] };
    assert.equal((await client.pushManifest("library/multi", "all", index)).status, 201);
    assert.match((await waitForImage(client, "library/multi", "?tag=all")).reason ?? "", /image index/);

    // An OCI artifact: empty config, its own artifactType.
    const empty = await client.pushBlob("library/sbom", Buffer.from("{}"));
    const sbom = Buffer.from('{"spdxVersion":"SPDX-2.3"}');
    const artifact = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      artifactType: "application/spdx+json",
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: empty, size: 2 },
      layers: [{ mediaType: "application/spdx+json", digest: await client.pushBlob("library/sbom", sbom), size: sbom.length }],
    };
    assert.equal((await client.pushManifest("library/sbom", "v1", artifact)).status, 201);
    const sbomEntry = await waitForImage(client, "library/sbom", "?tag=v1");
    assert.equal(sbomEntry.format, null);
    assert.equal(sbomEntry.reason, "artifact (application/spdx+json), not a container image");
  });

  test("absent repository, tag or digest: spec-shaped 404s; bad parameters: 400", async () => {
    let res = await client.fetch("/api/v1/images/cvi/nothing-here");
    assert.equal(res.status, 404);
    assert.deepEqual(await errorCodes(res), ["NAME_UNKNOWN"]);
    res = await client.fetch("/api/v1/images/cvi/ubuntu?tag=v9");
    assert.equal(res.status, 404);
    assert.deepEqual(await errorCodes(res), ["MANIFEST_UNKNOWN"]);
    res = await client.fetch(`/api/v1/images/cvi/ubuntu?digest=sha256:${"0".repeat(64)}`);
    assert.deepEqual(await errorCodes(res), ["MANIFEST_UNKNOWN"]);
    res = await client.fetch("/api/v1/images/cvi/Bad..Name");
    assert.deepEqual(await errorCodes(res), ["NAME_INVALID"]);
    res = await client.fetch("/api/v1/images/cvi/ubuntu?tag=latest&digest=sha256:abc");
    assert.equal(res.status, 400);
    for (const query of ["kind=Pod", "format=vhdx", "namespace=NotValid", "last=nocolon"]) {
      res = await client.fetch(`/api/v1/images?${query}`);
      assert.equal(res.status, 400, query);
      assert.deepEqual(await errorCodes(res), ["REQUEST_INVALID"], query);
    }
    res = await client.fetch("/api/v1/images?n=-1");
    assert.deepEqual(await errorCodes(res), ["PAGINATION_NUMBER_INVALID"]);
  });

  test("an untagged manifest is found by digest, with tag null", async () => {
    const pushed = await pushDiskImage(client, "cvi/by-digest", "tmp", qcow2Layer);
    assert.equal((await client.fetch("/v2/cvi/by-digest/manifests/tmp", { method: "DELETE" })).status, 202);
    const entry = await waitForImage(client, "cvi/by-digest", `?digest=${pushed.manifestDigest}`);
    assert.equal(entry.tag, null);
    assert.equal(entry.format, "qcow2");
  });

  describe("listing", () => {
    before(async () => {
      for (const repo of ["cvi/a1", "cvi/a2", "vi/ns1/b", "vi/ns2/c", "vd/ns1/d", "cvi/deep/path"]) {
        await pushDiskImage(client, repo, "latest", qcow2Layer);
        await waitForImage(client, repo);
      }
      await pushDiskImage(client, "vi/ns1/iso", "latest", await diskLayer(iso));
      await waitForImage(client, "vi/ns1/iso");
    });

    async function list(query: string): Promise<{ images: { repository: string; tag: string; kind: string; format: string | null }[]; link: string | null }> {
      const res = await client.fetch(`/api/v1/images${query}`);
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { images: { repository: string; tag: string; kind: string; format: string | null }[] };
      return { images: body.images, link: res.headers.get("link") };
    }

    test("filters by kind, namespace and format", async () => {
      const cvi = await list("?kind=ClusterVirtualImage");
      assert.ok(cvi.images.length >= 2);
      assert.ok(cvi.images.every((i) => i.kind === "ClusterVirtualImage" && /^cvi\/[^/]+$/.test(i.repository)));
      assert.ok(cvi.images.some((i) => i.repository === "cvi/a1"));
      assert.ok(!cvi.images.some((i) => i.repository === "cvi/deep/path"), "cvi/<a>/<b> is not a ClusterVirtualImage");
      assert.deepEqual((await list("?kind=VirtualImage&namespace=ns1")).images.map((i) => i.repository), ["vi/ns1/b", "vi/ns1/iso"]);
      assert.deepEqual((await list("?namespace=ns1")).images.map((i) => i.repository), ["vd/ns1/d", "vi/ns1/b", "vi/ns1/iso"]);
      assert.deepEqual((await list("?namespace=ns1&format=iso")).images.map((i) => i.repository), ["vi/ns1/iso"]);
      const plain = await list("?kind=Image");
      assert.ok(plain.images.some((i) => i.repository === "cvi/deep/path"));
      assert.ok(plain.images.every((i) => i.kind === "Image"));
    });

    test("paginates like the tags list: n, last and a Link that keeps the filters", async () => {
      const all = (await list("?format=qcow2")).images.map((i) => `${i.repository}:${i.tag}`);
      assert.ok(all.length >= 6);
      assert.deepEqual([...all].sort(), all, "sorted by repository, then tag");
      const seen: string[] = [];
      let next: string | null = "/api/v1/images?format=qcow2&n=2";
      while (next) {
        const page = await list(next.replace("/api/v1/images", ""));
        assert.ok(page.images.length <= 2);
        seen.push(...page.images.map((i) => `${i.repository}:${i.tag}`));
        next = page.link ? /^<([^>]+)>; rel="next"$/.exec(page.link)![1]! : null;
        if (next) assert.match(next, /format=qcow2/);
      }
      assert.deepEqual(seen, all);
      assert.deepEqual((await list(`?format=qcow2&last=${encodeURIComponent(all[0]!)}`)).images.map((i) => `${i.repository}:${i.tag}`), all.slice(1));
      assert.deepEqual((await list("?n=0")).images, []);
    });
  });
});
