import { InspectionError } from "../errors.js";
import type { DiskDetails, DiskHeader } from "../types.js";
import { product, requireBytes, startsWith, u64le } from "./fields.js";

/**
 * VMDK, per VMware's "Virtual Disk Format 5.0": a hosted sparse extent starts with a
 * little-endian header ("KDMV") and usually embeds its text descriptor in the next sectors;
 * a descriptor file alone is text starting with "# Disk DescriptorFile".
 */
const SPARSE_MAGIC = "KDMV";
const DESCRIPTOR_MAGIC = "# Disk DescriptorFile";
const SECTOR = 512;
const SPARSE_HEADER_LENGTH = 79;
const FLAG_COMPRESSED = 1 << 16;
const FLAG_MARKERS = 1 << 17;
/** qemu's bounds (vmdk_open_vmdk4, vmdk_add_extent): grain tables, grains and the grain directory. */
const MAX_GTES_PER_GT = 512;
const MAX_GRAIN_SECTORS = 0x200000;
const MAX_L1_ENTRIES = (512 * 1024 * 1024) / 4;
/** Descriptors are a few KiB; more is not a descriptor worth reading. */
const MAX_DESCRIPTOR_BYTES = 64 * 1024;
/** gdOffset in the header of a stream-optimized extent whose real header is the footer. */
const GD_AT_END = 0xffffffffffffffffn;

function invalid(message: string): InspectionError {
  return new InspectionError(`invalid VMDK header: ${message}`);
}

interface Descriptor {
  createType: string | null;
  /** Sectors of each extent line: `RW 41943040 SPARSE "disk.vmdk"`. */
  extents: { access: string; sectors: number; type: string; file: string }[];
}

const EXTENT_LINE = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)")?/;

function parseDescriptor(text: string): Descriptor {
  const createType = /^\s*createType\s*=\s*"([^"]*)"/m.exec(text)?.[1] ?? null;
  const extents: Descriptor["extents"] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = EXTENT_LINE.exec(line.trim());
    if (!m) continue;
    const sectors = Number(m[2]);
    if (!Number.isSafeInteger(sectors)) throw invalid(`extent of ${m[2]} sectors is absurd`);
    extents.push({ access: m[1]!, sectors, type: m[3]!, file: m[4] ?? "" });
  }
  return { createType, extents };
}

function descriptorText(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString("latin1");
}

export function parseVmdk(head: Buffer, fileSize: number): DiskHeader | null {
  if (startsWith(head, 0, SPARSE_MAGIC)) return parseSparse(head, fileSize);
  if (startsWith(head, 0, DESCRIPTOR_MAGIC)) return parseDescriptorFile(head);
  return null;
}

function parseSparse(head: Buffer, fileSize: number): DiskHeader {
  requireBytes(head, SPARSE_HEADER_LENGTH, "VMDK");
  const version = head.readUInt32LE(4);
  if (version < 1 || version > 3) throw new InspectionError(`VMDK version ${version} is not supported (only 1 to 3)`);
  const flags = head.readUInt32LE(8);
  const capacity = u64le(head, 12, "VMDK", "capacity");
  const grainSize = u64le(head, 20, "VMDK", "grain size");
  const descriptorOffset = u64le(head, 28, "VMDK", "descriptor offset");
  const descriptorSize = u64le(head, 36, "VMDK", "descriptor size");
  const gtesPerGt = head.readUInt32LE(44);
  const gdAtEnd = head.readBigUInt64LE(56) === GD_AT_END;

  if (grainSize === 0 || grainSize > MAX_GRAIN_SECTORS || (grainSize & (grainSize - 1)) !== 0) {
    throw invalid(`grain size of ${grainSize} sectors is not a power of two up to ${MAX_GRAIN_SECTORS}`);
  }
  if (gtesPerGt === 0 || gtesPerGt > MAX_GTES_PER_GT) throw invalid(`${gtesPerGt} entries per grain table (qemu allows 1..${MAX_GTES_PER_GT})`);
  const virtualSize = product(capacity, SECTOR, "VMDK", "capacity");
  const directoryEntries = Math.ceil(capacity / product(grainSize, gtesPerGt, "VMDK", "sectors per grain table"));
  if (directoryEntries > MAX_L1_ENTRIES) throw invalid(`a capacity of ${capacity} sectors needs a grain directory larger than qemu allows`);

  let descriptor: Descriptor = { createType: null, extents: [] };
  if (descriptorOffset > 0 && descriptorSize > 0) {
    const start = product(descriptorOffset, SECTOR, "VMDK", "descriptor offset");
    const length = Math.min(product(descriptorSize, SECTOR, "VMDK", "descriptor size"), MAX_DESCRIPTOR_BYTES);
    if (start + length > fileSize) throw invalid(`embedded descriptor lies beyond the end of the ${fileSize}-byte file`);
    if (start + length <= head.length) descriptor = parseDescriptor(descriptorText(head.subarray(start, start + length)));
  }
  const compressed = (flags & FLAG_COMPRESSED) !== 0;
  const createType = descriptor.createType ?? (compressed && (flags & FLAG_MARKERS) !== 0 ? "streamOptimized" : "monolithicSparse");
  const details: DiskDetails = {
    version,
    createType,
    compressed,
    grainSize: grainSize * SECTOR,
    // A stream-optimized extent written front to back keeps its grain directory in a footer.
    footer: gdAtEnd,
  };
  return { format: "vmdk", virtualSize, cdrom: false, details };
}

/**
 * A descriptor without its extents: the virtual size is the sum of the extent lines. The data
 * lives in other files, which the platform needs alongside; we report them so a user sees why.
 */
function parseDescriptorFile(head: Buffer): DiskHeader {
  const descriptor = parseDescriptor(descriptorText(head.subarray(0, MAX_DESCRIPTOR_BYTES)));
  if (descriptor.extents.length === 0) throw invalid("descriptor file lists no extents");
  let sectors = 0;
  for (const extent of descriptor.extents) {
    sectors += extent.sectors;
    if (!Number.isSafeInteger(sectors)) throw invalid("extent sizes add up to an absurd capacity");
  }
  const details: DiskDetails = {
    createType: descriptor.createType,
    descriptorOnly: true,
    extentFiles: descriptor.extents.map((e) => e.file),
  };
  return { format: "vmdk", virtualSize: product(sectors, SECTOR, "VMDK", "capacity"), cdrom: false, details };
}
