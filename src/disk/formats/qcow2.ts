import { InspectionError } from "../errors.js";
import type { DiskDetails, DiskHeader } from "../types.js";
import { product, requireBytes, startsWith, u64be } from "./fields.js";

/**
 * qcow2 (QEMU copy-on-write v2/v3), header per docs/interop/qcow2.txt, big-endian.
 * The checks are those qemu makes before it trusts a header (qcow2_do_open), so that what we
 * call qcow2 is what qemu would open, and an absurd header is reported instead of believed.
 */
const MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]); // "QFI\xfb"
const V2_HEADER_LENGTH = 72;
const V3_HEADER_LENGTH = 104;
const MIN_CLUSTER_BITS = 9;
const MAX_CLUSTER_BITS = 21;
const MAX_L1_BYTES = 32 * 1024 * 1024;
const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;
const MAX_BACKING_NAME = 1023;
const ENCRYPTION = ["none", "aes", "luks"] as const;

/** Incompatible feature bits (v3); qemu refuses images with bits it does not know. */
const INCOMPAT = { dirty: 1n << 0n, corrupt: 1n << 1n, externalDataFile: 1n << 2n, compressionType: 1n << 3n, extendedL2: 1n << 4n };
const KNOWN_INCOMPAT = Object.values(INCOMPAT).reduce((a, b) => a | b, 0n);
const COMPRESSION_TYPES = ["zlib", "zstd"] as const;

function invalid(message: string): InspectionError {
  return new InspectionError(`invalid qcow2 header: ${message}`);
}

/** A table (L1, refcount) must be cluster-aligned, bounded, and lie inside the file. */
function checkTable(name: string, offset: number, bytes: number, maxBytes: number, clusterSize: number, fileSize: number): void {
  if (bytes > maxBytes) throw invalid(`${name} of ${bytes} bytes is larger than qemu allows (${maxBytes})`);
  if (bytes === 0) return;
  if (offset % clusterSize !== 0) throw invalid(`${name} offset ${offset} is not cluster-aligned`);
  if (offset + bytes > fileSize) throw invalid(`${name} (${bytes} bytes at ${offset}) lies beyond the end of the ${fileSize}-byte file`);
}

export function parseQcow2(head: Buffer, fileSize: number): DiskHeader | null {
  if (!startsWith(head, 0, MAGIC)) return null;
  requireBytes(head, V2_HEADER_LENGTH, "qcow2");
  const version = head.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new InspectionError(`qcow2 version ${version} is not supported (only 2 and 3)`);

  const clusterBits = head.readUInt32BE(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw invalid(`cluster_bits ${clusterBits} outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`);
  }
  const clusterSize = 2 ** clusterBits;
  const virtualSize = u64be(head, 24, "qcow2", "virtual size");
  const cryptMethod = head.readUInt32BE(32);
  if (cryptMethod >= ENCRYPTION.length) throw invalid(`unknown encryption method ${cryptMethod}`);

  let incompatible = 0n;
  let headerLength = V2_HEADER_LENGTH;
  let compressionType: (typeof COMPRESSION_TYPES)[number] = "zlib";
  if (version === 3) {
    requireBytes(head, V3_HEADER_LENGTH, "qcow2");
    incompatible = head.readBigUInt64BE(72);
    const unknown = incompatible & ~KNOWN_INCOMPAT;
    if (unknown !== 0n) throw invalid(`unknown incompatible features 0x${unknown.toString(16)}`);
    const refcountOrder = head.readUInt32BE(96);
    if (refcountOrder > 6) throw invalid(`refcount_order ${refcountOrder} is larger than 6`);
    headerLength = head.readUInt32BE(100);
    if (headerLength < V3_HEADER_LENGTH || headerLength > clusterSize || headerLength % 8 !== 0) {
      throw invalid(`header_length ${headerLength} is not a multiple of 8 between ${V3_HEADER_LENGTH} and the cluster size`);
    }
    if (headerLength > V3_HEADER_LENGTH) {
      const type = head.length > V3_HEADER_LENGTH ? head[V3_HEADER_LENGTH]! : 0;
      if (type >= COMPRESSION_TYPES.length) throw invalid(`unknown compression type ${type}`);
      compressionType = COMPRESSION_TYPES[type]!;
    }
  }
  const extendedL2 = (incompatible & INCOMPAT.extendedL2) !== 0n;

  // The L1 table must be able to map the whole virtual size (qemu: "L1 table is too small").
  const l1Size = head.readUInt32BE(36);
  const l2Entries = clusterSize / (extendedL2 ? 16 : 8);
  const bytesPerL1Entry = product(clusterSize, l2Entries, "qcow2", "bytes per L1 entry");
  const neededL1 = Math.ceil(virtualSize / bytesPerL1Entry);
  if (l1Size < neededL1) throw invalid(`L1 table of ${l1Size} entries cannot map a virtual size of ${virtualSize} bytes (needs ${neededL1})`);
  checkTable("L1 table", u64be(head, 40, "qcow2", "L1 offset"), l1Size * 8, MAX_L1_BYTES, clusterSize, fileSize);
  const refcountClusters = head.readUInt32BE(56);
  if (refcountClusters === 0) throw invalid("no refcount table");
  checkTable(
    "refcount table",
    u64be(head, 48, "qcow2", "refcount table offset"),
    product(refcountClusters, clusterSize, "qcow2", "refcount table size"),
    MAX_REFTABLE_BYTES,
    clusterSize,
    fileSize,
  );

  const details: DiskDetails = {
    version,
    compat: version === 2 ? "0.10" : "1.1",
    clusterSize,
    encrypted: cryptMethod !== 0,
    encryption: cryptMethod === 0 ? null : ENCRYPTION[cryptMethod]!,
    backingFile: readBackingFile(head, clusterSize),
    snapshots: head.readUInt32BE(60),
    dirty: (incompatible & INCOMPAT.dirty) !== 0n,
    corrupt: (incompatible & INCOMPAT.corrupt) !== 0n,
    externalDataFile: (incompatible & INCOMPAT.externalDataFile) !== 0n,
    extendedL2,
    compressionType,
  };
  return { format: "qcow2", virtualSize, cdrom: false, details };
}

/**
 * The backing file name, when there is one. An image with a backing file is only the top of a
 * chain: the platform cannot boot it alone, so callers report the name. qemu bounds the name
 * to 1023 bytes inside the first cluster; we read it when it lies in the bytes we have.
 */
function readBackingFile(head: Buffer, clusterSize: number): string | null {
  const offset = u64be(head, 8, "qcow2", "backing file offset");
  if (offset === 0) return null;
  const length = head.readUInt32BE(16);
  if (length > Math.min(MAX_BACKING_NAME, clusterSize - offset)) throw invalid(`backing file name of ${length} bytes is too long`);
  if (offset + length > head.length) return "(name beyond the header region)";
  return head.subarray(offset, offset + length).toString("utf8");
}
