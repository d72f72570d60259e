import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { waitForImage } from "../helpers/disk-push.js";
import { createDisk, DISK_FORMATS } from "./helpers/disks.js";
import { pushAsImporter } from "./helpers/importer.js";
import { Podman } from "./helpers/podman.js";
import { pullDiskOverHttp } from "./helpers/registry-http.js";
import { withRegistry } from "./helpers/scope.js";

const MiB = 1024 * 1024;

/** The index, fed by real pushes: it must agree with what the importer derives from qemu-img. */
describe("disk-image index of images pushed by real clients", () => {
  test("importer-style pushes (uncompressed Docker layers): the index matches the importer's labels for every format", () =>
    withRegistry(async (scope) => {
      for (const format of DISK_FORMATS) {
        const disk = await createDisk(scope.dir("disks"), format, 3 * MiB);
        const pushed = await pushAsImporter(scope.client, `vi/import/${format}`, "latest", disk);
        const entry = await waitForImage(scope.client, `vi/import/${format}`);
        assert.equal(entry.digest, pushed.manifestDigest);
        assert.equal(entry.kind, "VirtualImage");
        assert.equal(entry.namespace, "import");
        assert.equal(entry.format, pushed.labels["source-image-format"], format);
        assert.equal(String(entry.virtualSize), pushed.labels["source-image-virtual-size"], format);
        assert.equal(String(entry.unpackedSize), pushed.labels["source-image-size"], format);
        assert.deepEqual(entry.labelMismatch, [], format);
        assert.equal(entry.cdrom, format === "iso");
        assert.equal(`sha256:${entry.sha256}`, disk.digest, format);
        assert.equal(entry.storedSize, pushed.layer.size);
        assert.equal(entry.diskFile, `disk/${disk.fileName}`);
      }
    }));

  test("podman build + push (gzip layers, OCI and Docker schema2): format, sizes and checksum of the disk inside", () =>
    withRegistry(async (scope) => {
      const disk = await createDisk(scope.dir("disks"), "qcow2", 4 * MiB);
      const builder = scope.use(new Podman(scope.dir("builder")));
      const reference = `${scope.host}/cvi/podman:latest`;
      await builder.buildDiskImage(disk, reference);
      await builder.push(reference);
      await builder.push(reference, { format: "docker", destination: `docker://${scope.host}/cvi/podman:v2s2` });
      for (const tag of ["latest", "v2s2"]) {
        const entry = await waitForImage(scope.client, "cvi/podman", `?tag=${tag}`);
        const pulled = await pullDiskOverHttp(scope.server.url, "cvi/podman", tag);
        assert.equal(entry.digest, pulled.manifest.digest);
        assert.equal(entry.kind, "ClusterVirtualImage");
        assert.equal(entry.format, "qcow2");
        assert.equal(entry.virtualSize, 4 * MiB);
        assert.equal(entry.unpackedSize, disk.size);
        assert.equal(entry.storedSize, pulled.layer.size, "stored: the gzip layer");
        assert.equal(`sha256:${entry.sha256}`, disk.digest);
        assert.equal(entry.diskFile, `disk/${disk.fileName}`);
      }
    }));
});
