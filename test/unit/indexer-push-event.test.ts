import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import pino from "pino";
import { systemClock } from "../../src/config/clock.js";
import { DEFAULT_CONFIG } from "../../src/config/config.js";
import { createDiskIndexer } from "../../src/index/index.js";
import { INSPECTOR_VERSION } from "../../src/index/record.js";
import { SqliteMetadata, type Metadata } from "../../src/meta/index.js";
import { parseDigest } from "../../src/oci/index.js";
import { BlobClaims, ManifestService, UploadService } from "../../src/registry/index.js";
import { FsBlobStorage } from "../../src/storage/index.js";
import { TaskRunner } from "../../src/tasks/index.js";
import { tempDir } from "../helpers/server.js";

test("the indexer inspects the manifest handed over by the push, and reads it back only when resuming", async () => {
  const root = tempDir("dvcr-indexer-");
  const logger = pino({ level: "silent" });
  const meta = SqliteMetadata.open(path.join(root, "meta.db"));
  const tasks = new TaskRunner(logger);
  try {
    const storage = new FsBlobStorage(root, { fsync: false, directIo: false, reserve: { bytes: 0, percent: 0 } });
    await storage.init();
    // The real metadata, with reads of stored manifests counted.
    const reads: string[] = [];
    const diskImages = { ...meta.diskImages, manifestContent: (digest: string) => (reads.push(digest), meta.diskImages.manifestContent(digest)) };
    const counted = Object.assign(Object.create(meta) as Metadata, { diskImages });
    const indexer = createDiskIndexer(counted, storage, { ...DEFAULT_CONFIG, root }, tasks);
    const manifests = new ManifestService(meta, systemClock);
    manifests.onPut((event) => indexer.enqueue(event.digest, { manifest: event.manifest }));
    indexer.start(logger);

    const config = Buffer.from(JSON.stringify({ config: { Labels: { "source-image-format": "qcow2" } } }));
    const configDigest = `sha256:${createHash("sha256").update(config).digest("hex")}`;
    await new UploadService(meta, storage, new BlobClaims()).pushMonolithic("cvi/a", parseDigest(configDigest), Readable.from([config]), config.length);
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
        layers: [],
      }),
    );
    const { digest } = await manifests.put("cvi/a", { kind: "tag", tag: "v1" }, body, "application/vnd.oci.image.manifest.v1+json");
    await indexer.idle();
    const row = await meta.diskImages.get(digest.value);
    assert.deepEqual([row?.status, row?.reason, row?.labels], ["ready", "image has no layers", { "source-image-format": "qcow2" }]);
    assert.deepEqual(reads, [], "the push's parsed manifest was used");

    // An older inspector's row is redone at start-up: then the manifest comes from the metadata.
    await meta.diskImages.save(digest.value, { ...row!, inspector: 0 });
    assert.equal(await indexer.resume(), 1);
    await indexer.idle();
    assert.deepEqual(reads, [digest.value]);
    assert.equal((await meta.diskImages.get(digest.value))?.inspector, INSPECTOR_VERSION);
    indexer.stop();
  } finally {
    await tasks.stop();
    await meta.close();
    rmSync(root, { recursive: true, force: true });
  }
});
