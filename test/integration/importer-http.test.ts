import assert from "node:assert/strict";
import { createReadStream, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { importImage, ImportError, type ImportProgress, type ImportRequest } from "../../src/importer/index.js";
import { MediaType } from "../../src/oci/index.js";
import { startFileServer, type FileServerBehaviour } from "../helpers/file-server.js";
import { expectedLabels, FAST, manifestStatus, publishDisk, pullImage, uploadSessions, type PublishedDisk } from "../helpers/importer.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";

const MiB = 1024 * 1024;

let registry: TestServer;
let work: string;

before(async () => {
  registry = await startTestServer();
  work = tempDir("dvcr-importer-");
});
after(async () => {
  await registry.dispose();
});

function destination(repository: string): ImportRequest["destination"] {
  return { registry: registry.url, repository, tag: "latest" };
}

/** Serve `published` with `behaviour` and import it into `repository`. */
async function importOverHttp(published: PublishedDisk, repository: string, behaviour: FileServerBehaviour = {}, extra: Partial<ImportRequest> = {}) {
  const server = await startFileServer(path.dirname(published.file), behaviour);
  try {
    const progress: ImportProgress[] = [];
    const result = await importImage({
      source: { type: "http", url: server.url(published.fileName) },
      destination: destination(repository),
      onProgress: (p) => progress.push(p),
      tuning: FAST,
      ...extra,
    });
    return { result, progress, requests: server.requests };
  } finally {
    await server.close();
  }
}

/** The pulled image is the disk, byte for byte, with DVCR's labels and layout. */
async function assertImported(published: PublishedDisk, repository: string, manifestDigest: string) {
  const pulled = await pullImage(registry.url, repository);
  assert.equal(pulled.manifest.contentType, MediaType.DockerManifest);
  assert.equal(pulled.manifest.digest, manifestDigest);
  assert.equal(pulled.layer.mediaType, MediaType.DockerLayerTar);
  assert.deepEqual(
    pulled.entries.map((e) => [e.name, e.type]),
    [["disk", "directory"], [`disk/${published.disk.fileName}`, "file"]],
  );
  assert.equal(pulled.disk.digest, published.disk.digest, "the pulled disk's sha256 is the decompressed source's");
  assert.deepEqual(pulled.labels, await expectedLabels(published.disk));
  assert.deepEqual(pulled.config.rootfs.diff_ids, [pulled.layer.digest]);
  return pulled;
}

describe("importer: HTTP sources of every format", () => {
  const cases: { format: "qcow2" | "raw" | "vmdk" | "iso" | "vdi"; compression: PublishedDisk["compression"]; sizeFrom: string }[] = [
    { format: "qcow2", compression: "none", sizeFrom: "source" },
    { format: "raw", compression: "gzip", sizeFrom: "spool" },
    { format: "vmdk", compression: "xz", sizeFrom: "xz-index" },
    { format: "iso", compression: "none", sizeFrom: "source" },
    { format: "vdi", compression: "none", sizeFrom: "source" },
    { format: "qcow2", compression: "xz", sizeFrom: "xz-index" },
  ];
  for (const { format, compression, sizeFrom } of cases) {
    test(`${format}${compression === "none" ? "" : ` (${compression})`}: decompressed, detected, pushed, pulled back byte for byte`, async () => {
      const published = await publishDisk(path.join(work, `${format}-${compression}`), format, 3 * MiB + 4096, compression);
      const repository = `cvi/http-${format}-${compression}`;
      const { result, progress } = await importOverHttp(published, repository, {}, { checksums: [{ algorithm: "sha256", hex: published.sha256 }, { algorithm: "md5", hex: published.md5 }] });
      const pulled = await assertImported(published, repository, result.manifestDigest);
      assert.equal(result.sourceImageFormat, format);
      assert.equal(result.sourceImageSize, published.disk.size);
      assert.equal(result.unpackedBytes, published.disk.size);
      assert.equal(String(result.sourceImageVirtualSize), pulled.labels["source-image-virtual-size"]);
      assert.equal(result.cdrom, format === "iso");
      assert.equal(result.sourceCompression, compression);
      assert.equal(result.sizeFrom, sizeFrom);
      assert.equal(result.storedBytes, pulled.layer.size + pulled.manifest.manifest.config.size);
      const last = progress.at(-1)!;
      assert.equal(last.percent, 100);
      assert.ok(progress.every((p, i) => i === 0 || p.bytes >= progress[i - 1]!.bytes), "progress bytes never go back");
    });
  }
});
