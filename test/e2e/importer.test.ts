import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MediaType } from "../../src/oci/index.js";
import { createDisk, DISK_FORMATS, type DiskImage } from "./helpers/disks.js";
import { IMPORTER_CHUNK_BYTES, pushAsImporter, type ImporterOptions } from "./helpers/importer.js";
import { fetchBlob, pullDiskOverHttp } from "./helpers/registry-http.js";
import { withRegistry, type E2eScope } from "./helpers/scope.js";

const MiB = 1024 * 1024;

/** Push as the importer, then read the image back as a disk importer does and compare every byte that matters. */
async function importAndVerify(scope: E2eScope, disk: DiskImage, repository: string, options: ImporterOptions) {
  const pushed = await pushAsImporter(scope.client, repository, "latest", disk, options);
  const pulled = await pullDiskOverHttp(scope.server.url, repository, "latest");

  assert.equal(pulled.manifest.contentType, MediaType.DockerManifest);
  assert.equal(pulled.manifest.headerDigest, pushed.manifestDigest);
  assert.equal(pulled.manifest.digest, pushed.manifestDigest);
  assert.deepEqual(pulled.layer, pushed.layer);
  assert.equal(pulled.layer.mediaType, MediaType.DockerLayerTar);
  assert.deepEqual(
    pulled.entries.map((e) => [e.name, e.type]),
    [["disk", "directory"], [`disk/${disk.fileName}`, "file"]],
  );
  assert.equal(pulled.disk.size, disk.size);
  assert.equal(pulled.disk.digest, disk.digest);

  const config = JSON.parse((await fetchBlob(scope.server.url, repository, pulled.manifest.manifest.config.digest)).toString("utf8"));
  assert.deepEqual(config.config.Labels, pushed.labels);
  assert.deepEqual(config.rootfs.diff_ids, [pushed.layer.digest]);
  return pushed;
}

describe("an importer's push: uncompressed disk layer, chunked PATCH uploads", () => {
  for (const format of DISK_FORMATS) {
    test(`${format}: labels from qemu-img, one 64 MiB-chunked upload, disk bytes intact`, () =>
      withRegistry(async (scope) => {
        const guestBytes = 3 * MiB + 4096;
        const disk = await createDisk(scope.dir("disks"), format, guestBytes);
        const pushed = await importAndVerify(scope, disk, `cvi/import-${format}`, { chunkBytes: IMPORTER_CHUNK_BYTES });
        assert.deepEqual(pushed.labels, {
          "erofs-compatible-layers": "true",
          "source-image-size": String(disk.size),
          // The guest disk converted into qcow2/vmdk/vdi keeps its size; an ISO's "virtual size" is the file.
          "source-image-virtual-size": String(format === "iso" ? disk.size : guestBytes),
          "source-image-format": format,
        });
        assert.deepEqual(pushed.patches, [`0-${pushed.layer.size - 1}`]);
      }));
  }

  test("a 96 MiB qcow2 spans two 64 MiB chunks with Content-Range", () =>
    withRegistry(async (scope) => {
      const disk = await createDisk(scope.dir("disks"), "qcow2", 96 * MiB);
      const pushed = await importAndVerify(scope, disk, "vi/ns/big", { chunkBytes: IMPORTER_CHUNK_BYTES });
      assert.ok(pushed.layer.size > 96 * MiB);
      assert.deepEqual(pushed.patches, [`0-${IMPORTER_CHUNK_BYTES - 1}`, `${IMPORTER_CHUNK_BYTES}-${pushed.layer.size - 1}`]);
    }));

  test("one streamed PATCH without Content-Range, as go-containerregistry's stream.Layer pushes", () =>
    withRegistry(async (scope) => {
      const disk = await createDisk(scope.dir("disks"), "vmdk", 8 * MiB, "cirros");
      const pushed = await importAndVerify(scope, disk, "vd/ns/streamed", {});
      assert.deepEqual(pushed.patches, [""]);
    }));
});
