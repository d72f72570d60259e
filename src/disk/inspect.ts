import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { COMPRESSION_MAGIC_BYTES, decoder, detectCompression } from "../compression/index.js";
import { InspectionError } from "./errors.js";
import { detectDisk } from "./formats/detect.js";
import { decodingStages, layerEncoding, type LayerSource } from "./layer-stream.js";
import type { DiskLimits } from "./limits.js";
import { walkTar, type DiskEntry, type WalkDecision, type WalkResult } from "./tar-walk.js";
import type { DiskHeader } from "./types.js";

/**
 * A disk file kept compressed inside its layer: DVCR's own importer stores the source file as it
 * came (`disk/<name>.qcow2.xz`), where dvcr's importer unpacks it first.
 */
export type DiskCompression = "gzip" | "xz";

/** The header pass's answer for a layer holding `disk/<file>` as the disk itself. */
export interface PlainDiskProbe extends DiskHeader {
  /** `disk/<file>` */
  path: string;
  /** Size of the disk file (tar header). */
  size: number;
  compression: null;
}

/**
 * The header pass's answer for a compressed `disk/<file>`: the header of the disk inside it. The
 * decompressed size is not known until the whole file is decompressed (the checksum pass), so the
 * sizes that only it gives are null here: a raw disk's virtual size, a UDF image's, and the
 * header's bounds against the file's end are checked then.
 */
export interface CompressedDiskProbe extends Omit<DiskHeader, "virtualSize"> {
  path: string;
  /** Size of the compressed file in the layer (tar header). */
  size: number;
  compression: DiskCompression;
  virtualSize: number | null;
}

export type DiskProbe = PlainDiskProbe | CompressedDiskProbe;

export interface DiskChecksum {
  path: string;
  /** Size of the disk file as stored in the layer (compressed when the file is). */
  size: number;
  /** Of the disk itself: decompressed first when the file is compressed, as a disk importer writes it. */
  sha256: string;
  md5: string;
  /** For a compressed file: the decompressed disk's size and its header judged against it. */
  unpacked?: { size: number; header: DiskHeader };
}

/** Stands in for a compressed file's unknown decompressed size in the header pass (no bound trips on it). */
const UNKNOWN_SIZE = Number.MAX_SAFE_INTEGER;

/**
 * The disk's bytes out of a `disk/<file>` entry: the entry itself, or what its gzip or xz stream
 * decompresses to (sniffed by magic bytes). `storedBytes` counts what the entry gave.
 */
async function openDisk(content: AsyncIterable<Buffer>): Promise<{ compression: DiskCompression | null; disk: AsyncIterable<Buffer>; storedBytes: () => number }> {
  const entry = content[Symbol.asyncIterator]();
  const first: Buffer[] = [];
  let stored = 0;
  while (stored < COMPRESSION_MAGIC_BYTES) {
    const next = await entry.next();
    if (next.done) break;
    first.push(next.value);
    stored += next.value.length;
  }
  const head = Buffer.concat(first);
  async function* replay(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (let next = await entry.next(); !next.done; next = await entry.next()) {
      stored += next.value.length;
      yield next.value;
    }
  }
  const compression = detectCompression(head);
  if (compression === "none") return { compression: null, disk: replay(), storedBytes: () => stored };
  const unpack = decoder(compression, {
    pieceBytes: 256 * 1024,
    corrupt: (what, detail) => new InspectionError(`disk file's ${what} stream is corrupt: ${detail}`),
    unavailable: (detail) => new Error(detail),
  })!;
  // Errors reach the reader through `unpack` (pipeline destroys it with them); stopping early destroys it.
  pipeline(Readable.from(replay(), { objectMode: false }), unpack).catch(() => undefined);
  return { compression, disk: unpack, storedBytes: () => stored };
}

async function walkLayer(
  layer: LayerSource,
  limits: DiskLimits,
  signal: AbortSignal,
  onDiskFile: (entry: DiskEntry) => Promise<WalkDecision>,
): Promise<WalkResult> {
  const encoding = await layerEncoding(layer);
  const source = await layer.read(0, layer.size - 1);
  return walkTar(source, decodingStages(encoding, limits), { limits, signal, onDiskFile });
}

/** The first `limit` bytes of an entry (fewer when the file is smaller). */
async function readHead(content: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let length = 0;
  for await (const chunk of content) {
    parts.push(chunk);
    length += chunk.length;
    if (length >= limit) break;
  }
  return Buffer.concat(parts).subarray(0, limit);
}

/**
 * Header pass: find `disk/<file>`, read its first `headerBytes`, detect the format and stop
 * reading. Resolves null when the layer holds no disk file. The cost does not depend on the
 * disk's size, only on what precedes it in the tar (bounded by the limits).
 */
export async function probeLayer(layer: LayerSource, limits: DiskLimits, signal: AbortSignal): Promise<DiskProbe | null> {
  let probe: DiskProbe | null = null;
  await walkLayer(layer, limits, signal, async (entry) => {
    const { compression, disk } = await openDisk(entry.content);
    if (compression === null) {
      const head = await readHead(disk, Math.min(limits.headerBytes, entry.size));
      probe = { ...detectDisk(head, entry.size), path: entry.path, size: entry.size, compression: null };
      return "stop";
    }
    const head = await readHead(disk, limits.headerBytes);
    if (head.length === 0) throw new InspectionError(`disk file's ${compression} stream holds no data`);
    const header = detectDisk(head, UNKNOWN_SIZE);
    probe = { ...header, virtualSize: header.virtualSize === UNKNOWN_SIZE ? null : header.virtualSize, path: entry.path, size: entry.size, compression };
    return "stop";
  });
  return probe;
}

/**
 * Checksum pass: stream the whole layer, hash the disk file (sha256 and md5, as the platform's
 * data sources declare checksums), and make sure it is the only disk file in the layer.
 */
export async function checksumLayer(layer: LayerSource, limits: DiskLimits, signal: AbortSignal): Promise<DiskChecksum> {
  let checksum: DiskChecksum | null = null;
  const walked = await walkLayer(layer, limits, signal, async (entry) => {
    const { compression, disk, storedBytes } = await openDisk(entry.content);
    const sha256 = createHash("sha256");
    const md5 = createHash("md5");
    const head: Buffer[] = [];
    let headBytes = 0;
    let length = 0;
    for await (const chunk of disk) {
      sha256.update(chunk);
      md5.update(chunk);
      length += chunk.length;
      // A compressed disk's header is judged again once its size is known: keep its first bytes.
      if (compression !== null && headBytes < limits.headerBytes) {
        head.push(chunk);
        headBytes += chunk.length;
      }
    }
    if (storedBytes() !== entry.size) throw new InspectionError(`layer is truncated: ${entry.path} has ${storedBytes()} of ${entry.size} bytes`);
    checksum = { path: entry.path, size: entry.size, sha256: sha256.digest("hex"), md5: md5.digest("hex") };
    if (compression !== null) {
      if (length === 0) throw new InspectionError(`disk file's ${compression} stream holds no data`);
      checksum.unpacked = { size: length, header: detectDisk(Buffer.concat(head).subarray(0, limits.headerBytes), length) };
    }
    return "continue";
  });
  if (checksum === null || walked.diskFiles.length !== 1) throw new InspectionError("layer holds no disk/<file>");
  return checksum;
}
