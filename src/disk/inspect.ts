import { createHash } from "node:crypto";
import { InspectionError } from "./errors.js";
import { detectDisk } from "./formats/detect.js";
import { decodingStages, layerEncoding, type LayerSource } from "./layer-stream.js";
import type { DiskLimits } from "./limits.js";
import { walkTar, type DiskEntry, type WalkDecision, type WalkResult } from "./tar-walk.js";
import type { DiskHeader } from "./types.js";

/** The header pass's answer for a layer holding `disk/<file>`. */
export interface DiskProbe extends DiskHeader {
  /** `disk/<file>` */
  path: string;
  /** Unpacked size of the disk file (tar header). */
  size: number;
}

export interface DiskChecksum {
  path: string;
  size: number;
  sha256: string;
  md5: string;
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
    const head = await readHead(entry.content, Math.min(limits.headerBytes, entry.size));
    probe = { ...detectDisk(head, entry.size), path: entry.path, size: entry.size };
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
    const sha256 = createHash("sha256");
    const md5 = createHash("md5");
    let length = 0;
    for await (const chunk of entry.content) {
      sha256.update(chunk);
      md5.update(chunk);
      length += chunk.length;
    }
    if (length !== entry.size) throw new InspectionError(`layer is truncated: ${entry.path} has ${length} of ${entry.size} bytes`);
    checksum = { path: entry.path, size: entry.size, sha256: sha256.digest("hex"), md5: md5.digest("hex") };
    return "continue";
  });
  if (checksum === null || walked.diskFiles.length !== 1) throw new InspectionError("layer holds no disk/<file>");
  return checksum;
}
