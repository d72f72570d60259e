/** What a stream is compressed with, as far as dvcr unpacks it (gzip and xz, as DVCR's sources are). */
export type Compression = "none" | "gzip" | "xz";

/** Enough bytes to tell the compressions apart. */
export const COMPRESSION_MAGIC_BYTES = 6;

const GZIP = Buffer.from([0x1f, 0x8b]);
const XZ = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** By magic bytes, never by file name or Content-Type (servers label .xz files octet-stream). */
export function detectCompression(head: Buffer): Compression {
  if (head.subarray(0, GZIP.length).equals(GZIP)) return "gzip";
  if (head.subarray(0, XZ.length).equals(XZ)) return "xz";
  return "none";
}
