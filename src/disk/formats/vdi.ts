import { InspectionError } from "../errors.js";
import type { DiskHeader } from "../types.js";
import { product, requireBytes, u64le } from "./fields.js";

/**
 * VirtualBox VDI 1.1, little-endian; the signature sits at offset 64, after a free-text banner.
 * Checks follow qemu's vdi_open, which refuses what VirtualBox itself never writes.
 */
const SIGNATURE = 0xbeda107f;
const SIGNATURE_OFFSET = 64;
const VERSION_1_1 = 0x00010001;
const HEADER_LENGTH = 400;
const SECTOR = 512;
const BLOCK_SIZE = 1024 * 1024;
const MAX_BLOCKS = 0x3fffffff;
const IMAGE_TYPES: Record<number, string> = { 1: "dynamic", 2: "fixed", 3: "undo", 4: "diff" };

function invalid(message: string): InspectionError {
  return new InspectionError(`invalid VDI header: ${message}`);
}

export function parseVdi(head: Buffer, fileSize: number): DiskHeader | null {
  if (head.length < SIGNATURE_OFFSET + 4 || head.readUInt32LE(SIGNATURE_OFFSET) !== SIGNATURE) return null;
  requireBytes(head, HEADER_LENGTH, "VDI");
  const version = head.readUInt32LE(68);
  if (version !== VERSION_1_1) throw new InspectionError(`VDI version 0x${version.toString(16)} is not supported (only 1.1)`);
  const imageType = IMAGE_TYPES[head.readUInt32LE(76)];
  if (imageType === undefined) throw invalid(`unknown image type ${head.readUInt32LE(76)}`);
  const bitmapOffset = head.readUInt32LE(340);
  const dataOffset = head.readUInt32LE(344);
  const sectorSize = head.readUInt32LE(360);
  const virtualSize = u64le(head, 368, "VDI", "disk size");
  const blockSize = head.readUInt32LE(376);
  const blocks = head.readUInt32LE(384);

  if (sectorSize !== SECTOR) throw invalid(`sector size ${sectorSize} (only ${SECTOR})`);
  if (blockSize !== BLOCK_SIZE) throw invalid(`block size ${blockSize} (only ${BLOCK_SIZE})`);
  if (blocks > MAX_BLOCKS) throw invalid(`${blocks} blocks is more than qemu allows`);
  if (virtualSize > product(blocks, blockSize, "VDI", "block map capacity")) {
    throw invalid(`disk size ${virtualSize} exceeds what the block map covers (${blocks} blocks of ${blockSize})`);
  }
  if (bitmapOffset > fileSize || dataOffset > fileSize) throw invalid(`block map or data offset lies beyond the end of the ${fileSize}-byte file`);
  return { format: "vdi", virtualSize, cdrom: false, details: { imageType, blockSize } };
}
