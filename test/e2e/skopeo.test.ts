import assert from "node:assert/strict";
import { createReadStream, readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { sha256, errorCodes } from "../helpers/client.js";
import { MediaType } from "../../src/oci/index.js";
import { diskEntry, isGzipLayer, readLayer } from "./helpers/disk-layer.js";
import { createDisk, type DiskFormat } from "./helpers/disks.js";
import { sha256File } from "./helpers/digests.js";
import { writeDiskOciLayout } from "./helpers/oci-layout.js";
import type { ImageManifest } from "./helpers/registry-http.js";
import { pullDiskOverHttp } from "./helpers/registry-http.js";
import { withRegistry } from "./helpers/scope.js";
import { skopeo, skopeoInspect, skopeoListTags } from "./helpers/skopeo.js";

const MiB = 1024 * 1024;

const cases: { format: DiskFormat; gzip: boolean }[] = [
  { format: "qcow2", gzip: true },
  { format: "raw", gzip: false },
];

describe("skopeo: copy an OCI layout with a disk layer in and out, inspect, list tags, delete", () => {
  for (const { format, gzip } of cases) {
    test(`${format}, ${gzip ? "gzip" : "uncompressed"} layer`, () =>
      withRegistry(async (scope) => {
        const disk = await createDisk(scope.dir("disks"), format, 6 * MiB);
        const layout = await writeDiskOciLayout(scope.dir("layout"), "v1", disk, gzip);
        const repository = `vi/skopeo/${format}`;
        const remote = (tag: string) => `docker://${scope.host}/${repository}:${tag}`;

        // --preserve-digests: the registry must hold exactly the layout's manifest and layer.
        await skopeo("copy", "--dest-tls-verify=false", "--preserve-digests", layout.reference, remote("v1"));
        // Converted to Docker schema2, keeping the layer's compression as it is.
        await skopeo("copy", "--dest-tls-verify=false", "--format", "v2s2", ...(gzip ? [] : ["--dest-compress=false"]), layout.reference, remote("v2s2"));

        const v1 = await pullDiskOverHttp(scope.server.url, repository, "v1");
        assert.equal(v1.manifest.contentType, MediaType.OciManifest);
        assert.equal(v1.manifest.digest, layout.manifest.digest);
        assert.deepEqual(v1.layer, layout.layer);
        assert.equal(v1.disk.digest, disk.digest);
        const v2s2 = await pullDiskOverHttp(scope.server.url, repository, "v2s2");
        assert.equal(v2s2.manifest.contentType, MediaType.DockerManifest);
        assert.equal(v2s2.layer.mediaType, gzip ? MediaType.DockerLayerTarGzip : MediaType.DockerLayerTar);
        assert.equal(v2s2.layer.digest, layout.layer.digest);
        assert.equal(v2s2.disk.digest, disk.digest);

        const inspected = await skopeoInspect(remote("v1"));
        assert.equal(inspected.Digest, layout.manifest.digest);
        assert.deepEqual(inspected.Layers, [layout.layer.digest]);
        assert.deepEqual([...inspected.RepoTags].sort(), ["v1", "v2s2"]);
        const raw = (await skopeo("inspect", "--tls-verify=false", "--raw", remote("v1"))).stdout;
        assert.equal(sha256(raw), layout.manifest.digest);
        const rawConfig = (await skopeo("inspect", "--tls-verify=false", "--config", "--raw", remote("v1"))).stdout;
        assert.equal(sha256(rawConfig), v1.manifest.manifest.config.digest);
        assert.deepEqual(await skopeoListTags(`docker://${scope.host}/${repository}`), ["v1", "v2s2"]);

        // Back out to a directory: the layer file is the stored blob and holds the disk unchanged.
        const out = scope.dir("out");
        await skopeo("copy", "--src-tls-verify=false", remote("v1"), `dir:${out}`);
        const copied = JSON.parse(readFileSync(path.join(out, "manifest.json"), "utf8")) as ImageManifest;
        const [layer] = copied.layers;
        assert.deepEqual(layer, layout.layer);
        const layerFile = path.join(out, layer!.digest.split(":")[1]!);
        assert.equal((await sha256File(layerFile)).digest, layout.layer.digest);
        const entries = await readLayer(createReadStream(layerFile), isGzipLayer(layer!.mediaType));
        assert.deepEqual(diskEntry(entries), { name: `disk/${disk.fileName}`, type: "file", size: disk.size, digest: disk.digest });

        if (!gzip) {
          // And back into an OCI layout without skopeo recompressing: the same manifest, digest for digest.
          const back = scope.dir("layout-back");
          await skopeo("copy", "--src-tls-verify=false", "--dest-oci-accept-uncompressed-layers", remote("v1"), `oci:${back}:v1`);
          const index = JSON.parse(readFileSync(path.join(back, "index.json"), "utf8")) as { manifests: { digest: string }[] };
          assert.deepEqual(index.manifests.map((m) => m.digest), [layout.manifest.digest]);
        }

        // skopeo delete removes the manifest v1 points at; v2s2 is another manifest and stays.
        await skopeo("delete", "--tls-verify=false", remote("v1"));
        for (const reference of ["v1", layout.manifest.digest]) {
          const res = await scope.client.fetch(`/v2/${repository}/manifests/${reference}`);
          assert.equal(res.status, 404);
          assert.deepEqual(await errorCodes(res), ["MANIFEST_UNKNOWN"]);
        }
        assert.deepEqual(await skopeoListTags(`docker://${scope.host}/${repository}`), ["v2s2"]);
        assert.equal((await pullDiskOverHttp(scope.server.url, repository, "v2s2")).disk.digest, disk.digest);
      }));
  }
});
