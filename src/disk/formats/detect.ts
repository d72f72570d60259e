import { InspectionError } from "../errors.js";
import type { DiskHeader, FormatParser } from "../types.js";
import { startsWith } from "./fields.js";
import { parseIso } from "./iso.js";
import { parseQcow2 } from "./qcow2.js";
import { rawDisk } from "./raw.js";
import { parseVdi } from "./vdi.js";
import { parseVmdk } from "./vmdk.js";

/** Containers the importer unpacks before packing: finding one in disk/ means it was skipped. */
const NOT_A_DISK: { magic: Buffer; what: string }[] = [
  { magic: Buffer.from([0x1f, 0x8b, 0x08]), what: "gzip-compressed" },
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), what: "xz-compressed" },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), what: "zstd-compressed" },
  { magic: Buffer.from("BZh", "latin1"), what: "bzip2-compressed" },
  { magic: Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]), what: "a LUKS-encrypted container" },
];

/** Header formats in the order qemu probes them; ISO before raw because an ISO is raw to qemu. */
const PARSERS: FormatParser[] = [parseQcow2, parseVmdk, parseVdi, parseIso];

/** Detect a disk file's format by magic bytes and read its virtual size from the header. */
export function detectDisk(head: Buffer, fileSize: number): DiskHeader {
  if (fileSize === 0) throw new InspectionError("disk file is empty");
  for (const { magic, what } of NOT_A_DISK) {
    if (startsWith(head, 0, magic)) throw new InspectionError(`disk file is ${what}; the image must hold the disk itself`);
  }
  for (const parse of PARSERS) {
    const header = parse(head, fileSize);
    if (header) return header;
  }
  return rawDisk(head, fileSize);
}
