import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Transform, type TransformCallback } from "node:stream";

/** `sha256:<hex>` of everything an async iterable of bytes yields, read as a stream. */
export async function sha256Of(source: AsyncIterable<Uint8Array>): Promise<{ digest: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of source) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

export function sha256File(path: string): Promise<{ digest: string; size: number }> {
  return sha256Of(createReadStream(path, { highWaterMark: 1 << 20 }));
}

/** A pass-through that hashes and counts what flows by: one read of a layer gives its digest. */
export class DigestingStream extends Transform {
  private readonly hash: Hash = createHash("sha256");
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }

  /** Valid once the stream has ended. */
  digest(): string {
    return `sha256:${this.hash.copy().digest("hex")}`;
  }
}
