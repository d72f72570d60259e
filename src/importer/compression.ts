import { decoder as decoderOf, type Compression } from "../compression/index.js";
import type { Duplex } from "node:stream";
import { STAGE_HIGH_WATER_MARK } from "./buffers.js";
import { ImportError } from "./errors.js";

export { COMPRESSION_MAGIC_BYTES, detectCompression } from "../compression/index.js";
export type SourceCompression = Compression;

/** `disk.qcow2.xz` is packed as `disk.qcow2`: the layer holds the decompressed disk. */
export function decompressedFileName(name: string, compression: SourceCompression): string {
  const suffixes = compression === "gzip" ? [".gz", ".gzip"] : compression === "xz" ? [".xz"] : [];
  const suffix = suffixes.find((s) => name.toLowerCase().endsWith(s) && name.length > s.length);
  return suffix ? name.slice(0, -suffix.length) : name;
}

/** The stage that turns the source's bytes into the disk's. */
export function decoder(compression: SourceCompression): Duplex | null {
  return decoderOf(compression, {
    pieceBytes: STAGE_HIGH_WATER_MARK,
    corrupt: (what, detail) => new ImportError("corrupt", `the source's ${what} stream is corrupt: ${detail}`),
    unavailable: (detail) => new ImportError("invalid", detail),
  });
}
