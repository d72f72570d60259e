import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  DEFAULT_DISK_LIMITS,
  InspectionError,
  checksumLayer,
  deadline,
  probeLayer,
  type DiskLimits,
  type LayerSource,
} from "../../src/disk/index.js";
import {
  bufferSource,
  convert,
  diskLayer,
  endlessZeroGzip,
  generatedSource,
  makeRaw,
  md5sum,
  qemuImg,
  qemuInfo,
  sha256sum,
  tarHeader,
  tarLayer,
} from "../helpers/disk-images.js";
import { tempDir } from "../helpers/server.js";

const NO_DEADLINE = new AbortController().signal;

function probe(layer: LayerSource, limits: DiskLimits = DEFAULT_DISK_LIMITS, signal = NO_DEADLINE) {
  return probeLayer(layer, limits, signal);
}

function checksum(layer: LayerSource, limits: DiskLimits = DEFAULT_DISK_LIMITS, signal = NO_DEADLINE) {
  return checksumLayer(layer, limits, signal);
}

async function rejectsWith(promise: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof InspectionError, `expected an InspectionError, got ${String(err)}`);
    assert.match(err.reason, reason);
    return true;
  });
}

describe("disk layers: the header pass and the checksum pass", () => {
  let dir: string;
  let raw: string;
  before(() => {
    dir = tempDir("dvcr-layer-");
    raw = makeRaw(dir, "disk.img", "24M", 3 * 1024 * 1024);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const gzip of [false, true]) {
    const kind = gzip ? "gzip" : "plain tar";
    test(`${kind}: qcow2 v3 — format, virtual size, unpacked size, sha256 and md5 of the disk file`, async () => {
      const file = convert(raw, path.join(dir, `v3-${gzip}.qcow2`), "qcow2");
      const layer = bufferSource(await diskLayer(file, "ubuntu.qcow2", gzip));
      const found = await probe(layer);
      assert.ok(found);
      assert.equal(found.path, "disk/ubuntu.qcow2");
      assert.equal(found.format, "qcow2");
      assert.equal(found.virtualSize, qemuInfo(file).virtualSize);
      const sums = await checksum(layer);
      assert.equal(sums.size, found.size);
      assert.equal(sums.sha256, sha256sum(file));
      assert.equal(sums.md5, md5sum(file));
    });

    test(`${kind}: raw disk, checksums equal sha256sum/md5sum`, async () => {
      const layer = bufferSource(await diskLayer(raw, "disk.img", gzip));
      const found = await probe(layer);
      assert.equal(found?.format, "raw");
      assert.equal(found?.virtualSize, 24 * 1024 * 1024);
      const sums = await checksum(layer);
      assert.equal(sums.sha256, sha256sum(raw));
      assert.equal(sums.md5, md5sum(raw));
    });
  }

  // DVCR's own importer keeps the source file as it came (`disk/<name>.qcow2.xz`) in a plain tar.
  for (const compression of ["gzip", "xz"] as const) {
    const compress = (file: string) => {
      const out = `${file}.${compression === "gzip" ? "gz" : "xz"}`;
      execFileSync(compression, ["-k", "-f", file]);
      return out;
    };

    test(`a ${compression}-compressed qcow2 in disk/: the disk inside it — format, virtual size, sizes and checksums of the decompressed disk`, async () => {
      const file = convert(raw, path.join(dir, `inner-${compression}.qcow2`), "qcow2");
      const packed = compress(file);
      const layer = bufferSource(await diskLayer(packed, `ubuntu.qcow2.${compression === "gzip" ? "gz" : "xz"}`));
      const found = await probe(layer);
      assert.ok(found);
      assert.equal(found.compression, compression);
      assert.equal(found.format, "qcow2");
      assert.equal(found.virtualSize, qemuInfo(file).virtualSize);
      assert.equal(found.size, statSync(packed).size);
      const sums = await checksum(layer);
      assert.equal(sums.size, statSync(packed).size);
      assert.equal(sums.sha256, sha256sum(file));
      assert.equal(sums.md5, md5sum(file));
      assert.equal(sums.unpacked?.size, statSync(file).size);
      assert.equal(sums.unpacked?.header.format, "qcow2");
      assert.equal(sums.unpacked?.header.virtualSize, qemuInfo(file).virtualSize);
    });

    test(`a ${compression}-compressed raw disk in disk/: its virtual size is known once the checksum pass has decompressed it`, async () => {
      const layer = bufferSource(await diskLayer(compress(raw), "disk.img"));
      const found = await probe(layer);
      assert.equal(found?.compression, compression);
      assert.equal(found?.format, "raw");
      assert.equal(found?.virtualSize, null);
      const sums = await checksum(layer);
      assert.equal(sums.sha256, sha256sum(raw));
      assert.deepEqual([sums.unpacked?.header.format, sums.unpacked?.header.virtualSize, sums.unpacked?.size], ["raw", 24 * 1024 * 1024, 24 * 1024 * 1024]);
    });

    test(`a corrupt ${compression} disk file is judged corrupt, not a fault of ours`, async () => {
      const packed = readFileSync(compress(raw));
      // Flip bytes in the middle of the compressed data: the header pass may pass, the checksum pass must not.
      for (let i = packed.length >> 1; i < (packed.length >> 1) + 64; i++) packed[i] = packed[i]! ^ 0xff;
      const layer = bufferSource(await tarLayer([{ name: "disk/broken.img", data: packed }]));
      await rejectsWith(checksum(layer), new RegExp(`${compression} stream is corrupt`));
    });
  }

  test("paths as other tools write them: ./disk/x, /disk/x, no directory entry, other files around", async () => {
    const file = convert(raw, path.join(dir, "paths.vdi"), "vdi");
    for (const name of ["./disk/a.vdi", "/disk/a.vdi", "disk/a.vdi"]) {
      const layer = bufferSource(await tarLayer([{ name: "etc/motd", data: Buffer.from("hi") }, { name, file }, { name: "disk/.wh.old.img" }]));
      const found = await probe(layer);
      assert.equal(found?.path, "disk/a.vdi");
      assert.equal(found?.format, "vdi");
      assert.equal((await checksum(layer)).sha256, sha256sum(file));
    }
  });

  test("a layer without disk/<file> probes to null; nested or sibling files do not count", async () => {
    const layer = bufferSource(await tarLayer([{ name: "disk/sub/x.img", data: Buffer.alloc(10) }, { name: "diskette/x.img", data: Buffer.alloc(10) }, { name: "x.img", data: Buffer.alloc(10) }]));
    assert.equal(await probe(layer), null);
    await rejectsWith(checksum(layer), /no disk\/<file>/);
  });

  test("the header pass stops early: it reads a bounded prefix of a large layer", async () => {
    const big = makeRaw(dir, "big.img", "64M", 64 * 1024 * 1024);
    const data = await diskLayer(big);
    let served = 0;
    const layer: LayerSource = {
      size: data.length,
      async read(start, end) {
        const { Readable } = await import("node:stream");
        async function* chunks() {
          for (let offset = start; offset <= end; offset += 65536) {
            const piece = data.subarray(offset, Math.min(offset + 65536, end + 1));
            served += piece.length;
            yield piece;
          }
        }
        return Readable.from(chunks());
      },
    };
    assert.equal((await probe(layer))?.format, "raw");
    assert.ok(served < 4 * 1024 * 1024, `served ${served} bytes of ${data.length}`);
  });
});

describe("hostile layers are judged, with bounded work", () => {
  let dir: string;
  let qcow2: string;
  before(() => {
    dir = tempDir("dvcr-hostile-");
    qcow2 = path.join(dir, "d.qcow2");
    qemuImg("create", "-q", "-f", "qcow2", qcow2, "1G");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("tar bomb: more entries than the limit", async () => {
    const entries = Array.from({ length: 300 }, (_, i) => ({ name: `junk/${i}`, data: Buffer.alloc(1) }));
    const layer = bufferSource(await tarLayer([...entries, { name: "disk/d.qcow2", file: qcow2 }]));
    await rejectsWith(probe(layer, { ...DEFAULT_DISK_LIMITS, maxEntries: 100 }), /more than 100 tar entries/);
    // Entries after the disk file are caught by the checksum pass, which walks the whole layer.
    const after = bufferSource(await tarLayer([{ name: "disk/d.qcow2", file: qcow2 }, ...entries]));
    assert.equal((await probe(after, { ...DEFAULT_DISK_LIMITS, maxEntries: 100 }))?.format, "qcow2");
    await rejectsWith(checksum(after, { ...DEFAULT_DISK_LIMITS, maxEntries: 100 }), /more than 100 tar entries/);
  });

  test("tar bomb: a huge entry before the disk file", async () => {
    const layer = bufferSource(await tarLayer([{ name: "filler", data: Buffer.alloc(3 * 1024 * 1024) }, { name: "disk/d.qcow2", file: qcow2 }]));
    await rejectsWith(probe(layer, { ...DEFAULT_DISK_LIMITS, maxOtherBytes: 1024 * 1024 }), /more than 1048576 bytes outside the disk file/);
  });

  test("path traversal: disk/../../etc/x", async () => {
    const layer = bufferSource(await tarLayer([{ name: "disk/../../etc/x", data: Buffer.from("root::0:0") }, { name: "disk/d.qcow2", file: qcow2 }]));
    await rejectsWith(probe(layer), /unsafe path in layer: "disk\/\.\.\/\.\.\/etc\/x"/);
  });

  test("names from the layer are bounded: a 300-byte disk name, a 100 KiB traversal path", async () => {
    await rejectsWith(probe(bufferSource(await tarLayer([{ name: `disk/${"x".repeat(300)}`, data: Buffer.alloc(10) }]))), /longer than 255 bytes/);
    const long = `disk/${"a/".repeat(50_000)}../x`;
    await assert.rejects(probe(bufferSource(await tarLayer([{ name: long, data: Buffer.alloc(1) }]))), (err: unknown) => {
      assert.ok(err instanceof InspectionError);
      assert.match(err.reason, /^unsafe path in layer/);
      assert.ok(err.reason.length <= 513, `reason of ${err.reason.length} characters`);
      return true;
    });
  });

  test("disk/<file> as a symlink or hard link", async () => {
    for (const type of ["symlink", "link"] as const) {
      const layer = bufferSource(await tarLayer([{ name: "disk/d.qcow2", type, linkname: "/etc/shadow" }]));
      await rejectsWith(probe(layer), new RegExp(`disk/d.qcow2 is a ${type}`));
    }
  });

  test("truncated tar: the probe may see the header, the checksum pass reports the truncation", async () => {
    const raw = makeRaw(dir, "t.img", "8M", 8 * 1024 * 1024);
    const full = await diskLayer(raw);
    const layer = bufferSource(full.subarray(0, 2 * 1024 * 1024));
    assert.equal((await probe(layer))?.format, "raw");
    await rejectsWith(checksum(layer), /truncated/);
    const gz = await diskLayer(raw, "t.img", true);
    await rejectsWith(checksum(bufferSource(gz.subarray(0, gz.length - 1000))), /gzip stream is corrupt|truncated/);
  });

  test("not a tar at all, and compressions we do not read", async () => {
    await rejectsWith(probe(bufferSource(Buffer.alloc(4096, 0x41))), /not a valid tar archive/);
    await rejectsWith(probe(bufferSource(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]))), /zstd-compressed layers are not supported/);
    await rejectsWith(probe(bufferSource(Buffer.alloc(0))), /layer is empty/);
  });

  test("two disk files in one layer", async () => {
    const layer = bufferSource(await tarLayer([{ name: "disk/a.qcow2", file: qcow2 }, { name: "disk/b.qcow2", file: qcow2 }]));
    await rejectsWith(checksum(layer), /more than one disk file: disk\/a.qcow2, disk\/b.qcow2/);
  });

  test("a qcow2 header with absurd sizes inside a layer", async () => {
    const header = Buffer.alloc(512);
    Buffer.from([0x51, 0x46, 0x49, 0xfb]).copy(header);
    header.writeUInt32BE(3, 4);
    header.writeUInt32BE(16, 20);
    header.writeBigUInt64BE(0xffffffffffffff00n, 24);
    const layer = bufferSource(await tarLayer([{ name: "disk/evil.qcow2", data: header }]));
    await rejectsWith(probe(layer), /virtual size .* is absurd/);
  });

  test("gzip bomb: a stream that expands without end is stopped by the ratio bound", async () => {
    const prefix = tarHeader("disk/zero.img", 1024 ** 4); // claims 1 TiB of zeros
    const layer = generatedSource(2 ** 40, () => endlessZeroGzip(prefix));
    const rssBefore = process.memoryUsage().rss;
    const limits = { ...DEFAULT_DISK_LIMITS, gzipRatioFloor: 16 * 1024 * 1024 };
    assert.equal((await probe(layer, limits))?.format, "raw", "the header pass reads only the start");
    await rejectsWith(checksum(layer, limits), /gzip layer expands more than 100x/);
    const grown = process.memoryUsage().rss - rssBefore;
    assert.ok(grown < 128 * 1024 * 1024, `RSS grew by ${grown} bytes`);
  });

  test("endless zeros after the disk file are stopped by the bound on bytes outside it", async () => {
    const prefix = Buffer.concat([tarHeader("disk/small.img", 512), Buffer.alloc(512, 1)]);
    const layer = generatedSource(2 ** 40, () => endlessZeroGzip(prefix));
    const limits = { ...DEFAULT_DISK_LIMITS, maxGzipRatio: 1e9, maxOtherBytes: 8 * 1024 * 1024 };
    await rejectsWith(checksum(layer, limits), /more than 8388608 bytes outside the disk file/);
  });

  test("with every size bound lifted, the deadline still ends the walk", async () => {
    const prefix = tarHeader("disk/zero.img", 1024 ** 4);
    const layer = generatedSource(2 ** 40, () => endlessZeroGzip(prefix));
    const limits = { ...DEFAULT_DISK_LIMITS, maxGzipRatio: 1e9 };
    const timer = deadline(300, "checksum pass");
    try {
      await rejectsWith(checksum(layer, limits, timer.signal), /checksum pass timed out/);
    } finally {
      timer.clear();
    }
  });

  test("a gzip stream without its end (no final block) is reported", async () => {
    const raw = makeRaw(dir, "g.img", "1M", 1024 * 1024);
    const gz = await diskLayer(raw, "g.img", true);
    // Cut the trailer and the final block: gunzip waits for more, then hits the end of input.
    await rejectsWith(checksum(bufferSource(gz.subarray(0, gz.length - 12))), /gzip stream is corrupt|truncated/);
  });
});
