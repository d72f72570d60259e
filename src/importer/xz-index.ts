import zlib from "node:zlib";
import { ImportError } from "./errors.js";

/**
 * The decompressed size of an .xz file from its index, without decompressing it: every stream
 * ends with a 12-byte footer giving the size of its index, and the index lists each block's
 * unpadded and uncompressed sizes (xz file format 1.1.0, sections 2.1.2 and 4). Streams may be
 * concatenated, with null padding in between; they are walked from the end. Three small reads
 * per stream, so a ranged HTTP source costs three extra requests.
 */
export type RangeReader = (start: number, end: number) => Promise<Buffer>;

const HEADER_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const FOOTER_MAGIC = Buffer.from("YZ", "latin1");
const FOOTER_BYTES = 12;
const HEADER_BYTES = 12;

function invalid(detail: string): ImportError {
  return new ImportError("corrupt", `the source's xz stream is corrupt: ${detail}`);
}

function readVarint(buf: Buffer, at: { pos: number }): number {
  let value = 0;
  for (let i = 0; i < 9; i++) {
    if (at.pos >= buf.length) throw invalid("index ends inside a number");
    const byte = buf[at.pos++]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) throw invalid("index holds an absurd size");
      return value;
    }
  }
  throw invalid("index number is longer than 9 bytes");
}

function roundUp4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** One stream's index: its blocks' total uncompressed size and the bytes they take in the file. */
function parseIndex(index: Buffer): { uncompressed: number; blocksBytes: number } {
  if (index[0] !== 0x00) throw invalid("index indicator missing");
  const crc = index.readUInt32LE(index.length - 4);
  if (zlib.crc32(index.subarray(0, index.length - 4)) !== crc) throw invalid("index CRC32 does not match");
  const at = { pos: 1 };
  const records = readVarint(index, at);
  let uncompressed = 0;
  let blocksBytes = 0;
  for (let i = 0; i < records; i++) {
    blocksBytes += roundUp4(readVarint(index, at));
    uncompressed += readVarint(index, at);
  }
  return { uncompressed, blocksBytes };
}

export async function xzUncompressedSize(read: RangeReader, fileSize: number): Promise<number> {
  let end = fileSize;
  let total = 0;
  let streams = 0;
  while (end > 0) {
    if (end < HEADER_BYTES + FOOTER_BYTES) throw invalid("file too short for an xz stream");
    const footer = await read(end - FOOTER_BYTES, end - 1);
    if (footer.subarray(8).equals(Buffer.alloc(4))) {
      end -= 4; // stream padding
      continue;
    }
    if (!footer.subarray(10).equals(FOOTER_MAGIC)) throw invalid("stream footer not found (truncated file?)");
    const indexBytes = (footer.readUInt32LE(4) + 1) * 4;
    const indexStart = end - FOOTER_BYTES - indexBytes;
    if (indexStart < HEADER_BYTES) throw invalid("index size points before the file");
    const { uncompressed, blocksBytes } = parseIndex(await read(indexStart, end - FOOTER_BYTES - 1));
    const streamStart = indexStart - blocksBytes - HEADER_BYTES;
    if (streamStart < 0) throw invalid("blocks size points before the file");
    const header = await read(streamStart, streamStart + HEADER_MAGIC.length - 1);
    if (!header.equals(HEADER_MAGIC)) throw invalid("stream header not where the index says");
    total += uncompressed;
    streams++;
    end = streamStart;
  }
  return total;
}
