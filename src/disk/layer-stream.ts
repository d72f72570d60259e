import type { Readable } from "node:stream";
import { Transform, type TransformCallback } from "node:stream";
import zlib from "node:zlib";
import { InspectionError } from "./errors.js";
import type { DiskLimits } from "./limits.js";

/** A layer blob as the inspector reads it: its stored size and ranged reads. */
export interface LayerSource {
  /** Stored (possibly compressed) size in bytes. */
  size: number;
  /** Stream bytes [start, end] (inclusive) of the stored blob. */
  read(start: number, end: number): Promise<Readable>;
}

/** Enough bytes to tell the layer's compression. */
const MAGIC_BYTES = 6;

const COMPRESSIONS: { magic: number[]; name: string }[] = [
  { magic: [0x1f, 0x8b], name: "gzip" },
  { magic: [0x28, 0xb5, 0x2f, 0xfd], name: "zstd" },
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], name: "xz" },
  { magic: [0x42, 0x5a, 0x68], name: "bzip2" },
];

export type LayerEncoding = "tar" | "gzip";

/**
 * Sniff the layer's compression from its first bytes rather than trusting the media type:
 * `docker save` and some tools label plain tars `.tar.gzip` and vice versa, and a puller
 * (containerd) sniffs too.
 */
export async function layerEncoding(layer: LayerSource): Promise<LayerEncoding> {
  if (layer.size === 0) throw new InspectionError("layer is empty");
  const head = await readAll(await layer.read(0, Math.min(MAGIC_BYTES, layer.size) - 1));
  const match = COMPRESSIONS.find(({ magic }) => magic.every((byte, i) => head[i] === byte));
  if (!match) return "tar";
  if (match.name === "gzip") return "gzip";
  throw new InspectionError(`${match.name}-compressed layers are not supported (dvcr reads plain and gzip tar layers)`);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/**
 * The stages that turn the stored layer into tar bytes. For gzip, a guard stops a stream that
 * expands beyond `maxGzipRatio` times what went in (a gzip bomb) once past `gzipRatioFloor`.
 */
export function decodingStages(encoding: LayerEncoding, limits: DiskLimits): Transform[] {
  if (encoding === "tar") return [];
  const compressed = new ByteMeter();
  const guard = new ByteMeter((expanded) => {
    if (expanded > limits.gzipRatioFloor && expanded > compressed.bytes * limits.maxGzipRatio) {
      return new InspectionError(
        `gzip layer expands more than ${limits.maxGzipRatio}x (${compressed.bytes} compressed bytes gave ${expanded}): refusing a possible gzip bomb`,
        // An almost empty raw disk expands like a bomb too: the header pass's findings stand.
        { overBudget: true },
      );
    }
    return null;
  });
  return [compressed, zlib.createGunzip({ chunkSize: 64 * 1024 }), guard];
}

/** Counts the bytes that pass; `check` may stop the stream with an error. */
export class ByteMeter extends Transform {
  bytes = 0;

  constructor(private readonly check: (bytes: number) => Error | null = () => null) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    const error = this.check(this.bytes);
    if (error) callback(error);
    else callback(null, chunk);
  }
}
