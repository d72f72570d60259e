import assert from "node:assert/strict";
import { openSync, readSync, closeSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { DEFAULT_DISK_LIMITS, InspectionError, detectDisk } from "../../src/disk/index.js";
import { convert, makeIso, makeRaw, qemuImg, qemuInfo } from "../helpers/disk-images.js";
import { tempDir } from "../helpers/server.js";

/** What the header pass sees: the first 64 KiB of the file, and the file's size. */
function head(file: string): { head: Buffer; size: number } {
  const size = statSync(file).size;
  const buf = Buffer.alloc(Math.min(DEFAULT_DISK_LIMITS.headerBytes, size));
  const fd = openSync(file, "r");
  try {
    readSync(fd, buf, 0, buf.length, 0);
  } finally {
    closeSync(fd);
  }
  return { head: buf, size };
}

function detect(file: string) {
  const { head: bytes, size } = head(file);
  return detectDisk(bytes, size);
}

describe("disk format detection agrees with qemu-img", () => {
  let dir: string;
  let raw: string;
  before(() => {
    dir = tempDir("dvcr-disk-");
    raw = makeRaw(dir, "base.raw", "96M");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: { name: string; make: () => string; format: string; details?: Record<string, unknown> }[] = [
    { name: "raw", make: () => raw, format: "raw" },
    { name: "qcow2 v2 (compat=0.10)", make: () => convert(raw, path.join(dir, "v2.qcow2"), "qcow2", "-o", "compat=0.10"), format: "qcow2", details: { version: 2, compat: "0.10", encrypted: false, backingFile: null } },
    { name: "qcow2 v3", make: () => convert(raw, path.join(dir, "v3.qcow2"), "qcow2"), format: "qcow2", details: { version: 3, compat: "1.1", clusterSize: 65536 } },
    { name: "qcow2 with 2 MiB clusters", make: () => convert(raw, path.join(dir, "big-cluster.qcow2"), "qcow2", "-o", "cluster_size=2M"), format: "qcow2", details: { clusterSize: 2 * 1024 * 1024 } },
    {
      name: "qcow2 whose virtual size (4 TiB) is far larger than its file",
      make: () => {
        const f = path.join(dir, "huge.qcow2");
        qemuImg("create", "-q", "-f", "qcow2", f, "4T");
        return f;
      },
      format: "qcow2",
    },
    {
      name: "qcow2 with a backing file",
      make: () => {
        convert(raw, path.join(dir, "base.qcow2"), "qcow2");
        const f = path.join(dir, "overlay.qcow2");
        // A relative backing name, as qemu resolves it: next to the overlay.
        qemuImg("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", f);
        return f;
      },
      format: "qcow2",
      details: { backingFile: "base.qcow2" },
    },
    {
      name: "qcow2 encrypted with LUKS",
      make: () => {
        const f = path.join(dir, "luks.qcow2");
        qemuImg("create", "-q", "--object", "secret,id=sec0,data=dvcr", "-f", "qcow2", "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=200", f, "64M");
        return f;
      },
      format: "qcow2",
      details: { encrypted: true, encryption: "luks" },
    },
    { name: "vmdk monolithicSparse", make: () => convert(raw, path.join(dir, "sparse.vmdk"), "vmdk", "-o", "subformat=monolithicSparse"), format: "vmdk", details: { createType: "monolithicSparse", compressed: false } },
    { name: "vmdk streamOptimized", make: () => convert(raw, path.join(dir, "stream.vmdk"), "vmdk", "-o", "subformat=streamOptimized"), format: "vmdk", details: { createType: "streamOptimized", compressed: true } },
    {
      name: "vmdk descriptor file (monolithicFlat)",
      make: () => {
        const f = path.join(dir, "flat.vmdk");
        qemuImg("create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", f, "80M");
        return f;
      },
      format: "vmdk",
      details: { createType: "monolithicFlat", descriptorOnly: true, extentFiles: ["flat-flat.vmdk"] },
    },
    { name: "vdi (dynamic)", make: () => convert(raw, path.join(dir, "dynamic.vdi"), "vdi"), format: "vdi", details: { imageType: "dynamic" } },
    { name: "vdi (fixed)", make: () => convert(raw, path.join(dir, "fixed.vdi"), "vdi", "-o", "static=on"), format: "vdi", details: { imageType: "fixed" } },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const file = c.make();
      const qemu = qemuInfo(file);
      const found = detect(file);
      assert.equal(qemu.format, c.format, "qemu-img agrees with the case's premise");
      assert.equal(found.format, qemu.format);
      assert.equal(found.virtualSize, qemu.virtualSize);
      assert.equal(found.cdrom, false);
      for (const [key, value] of Object.entries(c.details ?? {})) assert.deepEqual(found.details[key], value, key);
    });
  }

  test("the 4 TiB qcow2 is tiny on disk, and the header alone gives its size", () => {
    const file = path.join(dir, "huge.qcow2");
    assert.ok(statSync(file).size < 1024 * 1024);
    assert.equal(detect(file).virtualSize, 4 * 1024 ** 4);
  });

  test("ISO 9660: cdrom, format iso, virtual size = volume space size x block size (qemu: raw, same size)", () => {
    const file = makeIso(dir, "cd.iso", "MYVOLUME");
    const qemu = qemuInfo(file);
    const found = detect(file);
    assert.equal(qemu.format, "raw", "qemu-img does not tell ISO 9660 from raw");
    assert.equal(found.format, "iso");
    assert.equal(found.cdrom, true);
    assert.equal(found.virtualSize, qemu.virtualSize);
    assert.equal(found.details.volumeId, "MYVOLUME");
  });

  test("a raw disk with a GPT is reported with its partition table", () => {
    const file = path.join(dir, "gpt.raw");
    qemuImg("create", "-q", "-f", "raw", file, "8M");
    const bytes = Buffer.alloc(1024);
    bytes.write("EFI PART", 512, "latin1");
    const { head: first } = head(file);
    bytes.copy(first, 0, 0, 1024);
    assert.equal(detectDisk(first, statSync(file).size).details.partitionTable, "gpt");
  });
});

describe("hostile or unusable headers are reported, never believed", () => {
  let dir: string;
  let v3: Buffer;
  let size: number;
  before(() => {
    dir = tempDir("dvcr-disk-");
    const f = path.join(dir, "v3.qcow2");
    qemuImg("create", "-q", "-f", "qcow2", f, "1G");
    ({ head: v3, size } = head(f));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function patched(patch: (b: Buffer) => void): Buffer {
    const b = Buffer.from(v3);
    patch(b);
    return b;
  }

  const absurd: { name: string; patch: (b: Buffer) => void; reason: RegExp }[] = [
    { name: "virtual size 2^63", patch: (b) => b.writeBigUInt64BE(1n << 63n, 24), reason: /virtual size .* is absurd/ },
    { name: "virtual size 2^52 with a small L1 table", patch: (b) => b.writeBigUInt64BE(1n << 52n, 24), reason: /L1 table of \d+ entries cannot map/ },
    { name: "cluster_bits 40", patch: (b) => b.writeUInt32BE(40, 20), reason: /cluster_bits 40/ },
    { name: "L1 table beyond the end of the file", patch: (b) => b.writeBigUInt64BE(1n << 40n, 40), reason: /L1 table .* beyond the end/ },
    { name: "L1 table of 2^31 entries", patch: (b) => b.writeUInt32BE(2 ** 31, 36), reason: /L1 table of \d+ bytes is larger than qemu allows/ },
    { name: "unknown incompatible feature", patch: (b) => b.writeBigUInt64BE(1n << 40n, 72), reason: /unknown incompatible features/ },
    { name: "version 9", patch: (b) => b.writeUInt32BE(9, 4), reason: /version 9 is not supported/ },
    { name: "backing file name of 1 MiB", patch: (b) => (b.writeBigUInt64BE(512n, 8), b.writeUInt32BE(1 << 20, 16)), reason: /backing file name .* too long/ },
  ];
  for (const c of absurd) {
    test(`qcow2: ${c.name}`, () => {
      assert.throws(() => detectDisk(patched(c.patch), size), (err: unknown) => err instanceof InspectionError && c.reason.test(err.reason));
    });
  }

  test("a header cut short is reported as truncated", () => {
    assert.throws(() => detectDisk(v3.subarray(0, 40), 40), /qcow2 header is truncated/);
  });

  test("compressed or encrypted containers in disk/ are named", () => {
    assert.throws(() => detectDisk(Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0]), 100), /gzip-compressed/);
    assert.throws(() => detectDisk(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), 100), /xz-compressed/);
    assert.throws(() => detectDisk(Buffer.from("LUKS\xba\xbe\x00\x01", "latin1"), 4096), /LUKS/);
    assert.throws(() => detectDisk(Buffer.alloc(0), 0), /empty/);
  });

  test("an ISO whose volume claims more than the file holds is truncated", () => {
    const iso = makeIso(dir, "short.iso");
    const { head: bytes } = head(iso);
    assert.throws(() => detectDisk(bytes, 40 * 2048), /larger than its .*-byte file/);
  });

  test("a VMDK with an absurd capacity is refused", () => {
    const bytes = Buffer.alloc(512);
    bytes.write("KDMV", 0, "latin1");
    bytes.writeUInt32LE(1, 4);
    bytes.writeBigUInt64LE(1n << 62n, 12);
    bytes.writeBigUInt64LE(128n, 20);
    bytes.writeUInt32LE(512, 44);
    assert.throws(() => detectDisk(bytes, 65536), /VMDK capacity .* is absurd/);
  });

  test("a VDI whose disk size exceeds its block map is refused", () => {
    const raw = makeRaw(dir, "small.raw", "8M", 65536);
    const vdi = convert(raw, path.join(dir, "small.vdi"), "vdi");
    const { head: bytes, size: vdiSize } = head(vdi);
    bytes.writeBigUInt64LE(1n << 40n, 368);
    assert.throws(() => detectDisk(bytes, vdiSize), /exceeds what the block map covers/);
  });
});
