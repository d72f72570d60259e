import type { DiskHeader } from "../types.js";
import { startsWith } from "./fields.js";

/**
 * Raw: no header, the disk is the file. What we can tell cheaply is its partition table,
 * which says whether the image is likely bootable as is.
 */
export function rawDisk(head: Buffer, fileSize: number): DiskHeader {
  return { format: "raw", virtualSize: fileSize, cdrom: false, details: { partitionTable: partitionTable(head) } };
}

function partitionTable(head: Buffer): string | null {
  if (startsWith(head, 512, "EFI PART")) return "gpt";
  if (head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa) return "mbr";
  return null;
}
