import assert from "node:assert/strict";
import path from "node:path";
import { describe, test } from "node:test";
import { MediaType } from "../../src/oci/index.js";
import { Containerd } from "./helpers/containerd.js";
import { createDisk, type DiskImage } from "./helpers/disks.js";
import { sha256File } from "./helpers/digests.js";
import { IMPORTER_CHUNK_BYTES, pushAsImporter } from "./helpers/importer.js";
import { Podman } from "./helpers/podman.js";
import { fetchManifest } from "./helpers/registry-http.js";
import { withRegistry, type E2eScope } from "./helpers/scope.js";

const MiB = 1024 * 1024;

/** What kubelet does with a containerDisk: pull the image into containerd, then read disk/<file> from its rootfs. */
async function pullAndReadDisk(scope: E2eScope, reference: string, disk: DiskImage, manifestDigest: string): Promise<void> {
  const containerd = scope.use(await Containerd.start(scope.dir("containerd")));
  await containerd.pull(reference);
  const { stdout } = await containerd.ctr("images", "ls");
  const row = stdout.split("\n").find((line) => line.startsWith(`${reference} `));
  assert.ok(row, stdout);
  assert.ok(row.split(/\s+/).includes(manifestDigest), row);

  const target = scope.dir("rootfs");
  await containerd.mount(reference, target);
  const copy = await sha256File(path.join(target, "disk", disk.fileName));
  assert.deepEqual(copy, { digest: disk.digest, size: disk.size });
  await containerd.unmount(target);
}

describe("containerd (as kubelet): pull --plain-http, mount, read the disk", () => {
  test("qcow2 in a gzip layer, built and pushed by podman", () =>
    withRegistry(async (scope) => {
      const disk = await createDisk(scope.dir("disks"), "qcow2", 5 * MiB);
      const reference = `${scope.host}/cvi/kubelet-gzip:latest`;
      const podman = scope.use(new Podman(scope.dir("podman")));
      await podman.buildDiskImage(disk, reference);
      await podman.push(reference);
      const stored = await fetchManifest(scope.server.url, "cvi/kubelet-gzip", "latest");
      assert.equal(stored.manifest.layers[0]?.mediaType, MediaType.OciLayerTarGzip);
      await pullAndReadDisk(scope, reference, disk, stored.digest);
    }));

  test("vdi in an uncompressed Docker layer, pushed as the importer does", () =>
    withRegistry(async (scope) => {
      const disk = await createDisk(scope.dir("disks"), "vdi", 5 * MiB);
      const pushed = await pushAsImporter(scope.client, "vi/ns/kubelet-plain", "latest", disk, { chunkBytes: IMPORTER_CHUNK_BYTES });
      assert.equal(pushed.layer.mediaType, MediaType.DockerLayerTar);
      await pullAndReadDisk(scope, `${scope.host}/vi/ns/kubelet-plain:latest`, disk, pushed.manifestDigest);
    }));
});
