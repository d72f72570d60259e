/** What a stream is compressed with, as far as dvcr unpacks it (gzip and xz, as DVCR's sources are). */
export type Compression = "none" | "gzip" | "xz";

/** Enough bytes to tell the compressions apart. */
export const COMPRESSION_MAGIC_BYTES = 6;

/** ID1 ID2 and CM = 8 (deflate, the only method RFC 1952 defines). */
const GZIP = Buffer.from([0x1f, 0x8b, 0x08]);
/** FLG bits 5–7 are reserved and must be zero (RFC 1952 2.3.1). */
const GZIP_RESERVED_FLAGS = 0xe0;
const XZ = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** By magic bytes, never by file name or Content-Type (servers label .xz files octet-stream). */
export function detectCompression(head: Buffer): Compression {
  // Three bytes and the flags, not two: a raw disk starting with 1f 8b (1 in 65 536 random
  // sectors) must not be taken for gzip.
  if (head.length > GZIP.length && head.subarray(0, GZIP.length).equals(GZIP) && (head[GZIP.length]! & GZIP_RESERVED_FLAGS) === 0) return "gzip";
  if (head.subarray(0, XZ.length).equals(XZ)) return "xz";
  return "none";
}
