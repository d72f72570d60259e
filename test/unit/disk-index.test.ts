import assert from "node:assert/strict";
import { writeFileSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { formatBytes, imageTable } from "../../src/cli/image-table.js";
import { loadConfig } from "../../src/config/config.js";
import { configLabels, labelMismatch, ownerMatches, ownerOf, ownerPrefix, type ImageEntry } from "../../src/index/index.js";
import { tempDir } from "../helpers/server.js";

describe("disk index: owners, labels, queue, output, configuration", () => {
  test("repository paths map to the platform's owners", () => {
    assert.deepEqual(ownerOf("cvi/ubuntu"), { kind: "ClusterVirtualImage", name: "ubuntu", namespace: null });
    assert.deepEqual(ownerOf("vi/prod/win"), { kind: "VirtualImage", name: "win", namespace: "prod" });
    assert.deepEqual(ownerOf("vd/prod/data"), { kind: "VirtualDisk", name: "data", namespace: "prod" });
    for (const other of ["cvi", "cvi/a/b", "vi/prod", "vd/a/b/c", "library/ubuntu", "cvix/a"]) {
      assert.deepEqual(ownerOf(other), { kind: "Image", name: other, namespace: null }, other);
    }
    assert.equal(ownerPrefix({ kind: "VirtualImage", namespace: "prod" }), "vi/prod/");
    assert.equal(ownerPrefix({ kind: "ClusterVirtualImage" }), "cvi/");
    assert.equal(ownerPrefix({ kind: "Image" }), undefined);
    assert.equal(ownerPrefix({ namespace: "prod" }), undefined);
    assert.ok(ownerMatches(ownerOf("vd/prod/x"), { namespace: "prod" }));
    assert.ok(!ownerMatches(ownerOf("cvi/x"), { namespace: "prod" }));
  });

  test("config labels: read from config.Labels, bounded; mismatches named", () => {
    assert.deepEqual(configLabels({ config: { Labels: { a: "1", n: 5, "source-image-format": "qcow2" } } }), { a: "1", "source-image-format": "qcow2" });
    assert.deepEqual(configLabels({ config: { Labels: null } }), {});
    assert.deepEqual(configLabels("nonsense"), {});
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, "v".repeat(5000)]));
    const bounded = configLabels({ config: { Labels: many } });
    assert.equal(Object.keys(bounded).length, 64);
    assert.equal(bounded.k0!.length, 1024);
    const found = { format: "qcow2" as const, virtualSize: 1024, unpackedSize: 512 };
    assert.deepEqual(labelMismatch({}, found), []);
    assert.deepEqual(labelMismatch({ "source-image-format": "QCOW2", "source-image-size": "512", "source-image-virtual-size": "1024" }, found), []);
    assert.deepEqual(labelMismatch({ "source-image-format": "raw", "source-image-size": "512", "source-image-virtual-size": "2048" }, found), [
      "source-image-virtual-size",
      "source-image-format",
    ]);
  });

  test("dvcr inspect's table", () => {
    assert.equal(formatBytes(null), "-");
    assert.equal(formatBytes(512), "512 bytes");
    assert.equal(formatBytes(10 * 1024 ** 3), "10.0 GiB (10737418240 bytes)");
    const entry: ImageEntry = {
      repository: "vi/prod/win",
      tag: "latest",
      digest: "sha256:abc",
      kind: "VirtualImage",
      name: "win",
      namespace: "prod",
      status: "ready",
      format: null,
      reason: "layer holds more than one disk file: disk/a, disk/b",
      virtualSize: null,
      storedSize: 2048,
      unpackedSize: null,
      diskFile: null,
      cdrom: false,
      compression: null,
      sha256: null,
      md5: null,
      createdAt: "2026-01-01T00:00:00.000Z",
      indexedAt: "2026-01-01T00:00:01.000Z",
      labels: { "source-image-format": "iso" },
      labelMismatch: [],
      details: null,
    };
    const table = imageTable(entry);
    assert.match(table, /^Owner +VirtualImage prod\/win$/m);
    assert.match(table, /^Reason +layer holds more than one disk file: disk\/a, disk\/b$/m);
    assert.match(table, /^Stored size +2\.0 KiB \(2048 bytes\)$/m);
    assert.match(table, /^Labels +source-image-format=iso$/m);
    assert.doesNotMatch(imageTable({ ...entry, reason: null }), /Reason/);
  });

  test("configuration: index settings from the file, validated", () => {
    const dir = tempDir("dvcr-cfg-");
    try {
      const file = path.join(dir, "dvcr.yaml");
      writeFileSync(file, "index: {checksumConcurrency: 2, checksumTimeout: 30m, maxGzipRatio: 500, maxTarEntries: 100}\n");
      assert.deepEqual(loadConfig({ configFile: file }, {}).index, { checksumConcurrency: 2, checksumTimeout: 30 * 60 * 1000, maxGzipRatio: 500, maxTarEntries: 100 });
      writeFileSync(file, "index: {checksumConcurrency: 0}\n");
      assert.throws(() => loadConfig({ configFile: file }, {}), /index.checksumConcurrency/);
      assert.equal(loadConfig({}, {}).index.maxGzipRatio, 100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
