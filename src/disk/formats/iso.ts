import { InspectionError } from "../errors.js";
import type { DiskHeader } from "../types.js";

/**
 * ISO 9660 (ECMA-119): the volume descriptor set starts at sector 16 of 2048 bytes; each
 * descriptor carries "CD001" at byte 1. The primary volume descriptor (type 1) holds the volume
 * space size (both-endian u32 at 80) and the logical block size (both-endian u16 at 128).
 * A UDF-only medium has "BEA01"/"NSR0x" there instead; its size lives far beyond the header.
 */
const DESCRIPTOR_SIZE = 2048;
const FIRST_DESCRIPTOR = 16;
const PRIMARY = 1;
const TERMINATOR = 255;
const UDF_MARKERS = ["BEA01", "NSR02", "NSR03"];

function identifier(head: Buffer, offset: number): string {
  return head.subarray(offset + 1, offset + 6).toString("latin1");
}

export function parseIso(head: Buffer, fileSize: number): DiskHeader | null {
  let udf = false;
  for (let sector = FIRST_DESCRIPTOR; (sector + 1) * DESCRIPTOR_SIZE <= head.length; sector++) {
    const offset = sector * DESCRIPTOR_SIZE;
    const id = identifier(head, offset);
    if (UDF_MARKERS.includes(id)) udf = true;
    if (id !== "CD001") {
      if (udf) continue;
      break;
    }
    const type = head[offset]!;
    if (type === TERMINATOR) break;
    if (type === PRIMARY) return primaryVolume(head, offset, fileSize);
  }
  if (udf) return { format: "iso", virtualSize: fileSize, cdrom: true, details: { filesystem: "udf" } };
  return null;
}

function primaryVolume(head: Buffer, offset: number, fileSize: number): DiskHeader {
  const blocks = head.readUInt32LE(offset + 80);
  const blockSize = head.readUInt16LE(offset + 128);
  if (![512, 1024, 2048].includes(blockSize)) throw new InspectionError(`invalid ISO 9660 volume: logical block size ${blockSize}`);
  const virtualSize = blocks * blockSize;
  if (virtualSize === 0) throw new InspectionError("invalid ISO 9660 volume: volume space size is 0");
  if (virtualSize > fileSize) {
    throw new InspectionError(`ISO 9660 volume of ${virtualSize} bytes is larger than its ${fileSize}-byte file (truncated image)`);
  }
  const volumeId = head.subarray(offset + 40, offset + 72).toString("latin1").trim();
  return { format: "iso", virtualSize, cdrom: true, details: { filesystem: "iso9660", volumeId, blockSize } };
}
