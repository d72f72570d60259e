import assert from "node:assert/strict";
import path from "node:path";
import { describe, test } from "node:test";
import { MediaType } from "../../src/oci/index.js";
import { createDisk, type DiskFormat } from "./helpers/disks.js";
import { sha256File } from "./helpers/digests.js";
import { Podman } from "./helpers/podman.js";
import { pullDiskOverHttp } from "./helpers/registry-http.js";
import { withRegistry } from "./helpers/scope.js";

const MiB = 1024 * 1024;

describe("podman: docker build + push of a disk image, pull back", () => {
  for (const format of ["qcow2", "vmdk"] satisfies DiskFormat[]) {
    test(`${format}: OCI and Docker schema2 pushes store the disk byte for byte`, () =>
      withRegistry(async (scope) => {
        const disk = await createDisk(scope.dir("disks"), format, 5 * MiB);
        const repository = `cvi/podman-${format}`;
        const oci = `${scope.host}/${repository}:latest`;
        const docker = `${scope.host}/${repository}:v2s2`;

        const builder = scope.use(new Podman(scope.dir("builder")));
        await builder.buildDiskImage(disk, oci);
        await builder.push(oci);
        await builder.push(oci, { format: "docker", destination: `docker://${docker}` });

        // What the registry stores: the manifest types podman chose, and the disk inside each gzip layer.
        const expected = {
          latest: { manifest: MediaType.OciManifest, config: MediaType.OciConfig, layer: MediaType.OciLayerTarGzip },
          v2s2: { manifest: MediaType.DockerManifest, config: MediaType.DockerConfig, layer: MediaType.DockerLayerTarGzip },
        };
        const stored: Record<string, string> = {};
        for (const [tag, types] of Object.entries(expected)) {
          const pulled = await pullDiskOverHttp(scope.server.url, repository, tag);
          assert.equal(pulled.manifest.contentType, types.manifest);
          assert.equal(pulled.manifest.manifest.mediaType, types.manifest);
          assert.equal(pulled.manifest.manifest.config.mediaType, types.config);
          assert.equal(pulled.layer.mediaType, types.layer);
          assert.equal(pulled.manifest.headerDigest, pulled.manifest.digest);
          assert.equal(pulled.disk.name, `disk/${disk.fileName}`);
          assert.equal(pulled.disk.digest, disk.digest);
          stored[tag] = pulled.manifest.digest;
        }
        assert.notEqual(stored.latest, stored.v2s2);

        // Pushing the same image to another repository lets podman mount the blobs it already pushed.
        const mirror = `cvi/podman-${format}-mirror`;
        await builder.push(oci, { destination: `docker://${scope.host}/${mirror}:latest` });
        const mirrored = await pullDiskOverHttp(scope.server.url, mirror, "latest");
        assert.equal(mirrored.manifest.digest, stored.latest);
        assert.equal(mirrored.disk.digest, disk.digest);

        // A second podman with empty storage pulls both tags and sees the same disk in the image's rootfs.
        const puller = scope.use(new Podman(scope.dir("puller")));
        for (const [tag, reference] of [["latest", oci], ["v2s2", docker]] as const) {
          await puller.pull(reference);
          // Both tags hold one image (same config); podman records each manifest it pulled as a RepoDigest.
          const { stdout } = await puller.run("image", "inspect", "--format", "{{json .RepoDigests}}", reference);
          assert.ok((JSON.parse(stdout) as string[]).includes(`${scope.host}/${repository}@${stored[tag]}`), stdout);
          const rootfs = await puller.mountImage(reference);
          const copy = await sha256File(path.join(rootfs, "disk", disk.fileName));
          assert.deepEqual(copy, { digest: disk.digest, size: disk.size });
          await puller.unmountImage(reference);
        }
      }));
  }
});
