import type { FileHandle } from "node:fs/promises";
import type { Hash } from "node:crypto";

/**
 * Network reads arrive in ~64 KiB pieces; hashing and writing them one by one costs a third
 * of the throughput. We gather them into 1 MiB blocks, hash each block once and write it at
 * its file position. Memory stays at one block whatever the blob size.
 */
export const BLOCK_SIZE = 1024 * 1024;

export interface WriteResult {
  bytes: number;
}

export class LimitExceededError extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds the declared length of ${limit} bytes`);
  }
}

export interface WriteHashedOptions {
  /** Stop with LimitExceededError as soon as more than this many bytes arrive. */
  limit?: number;
  /** Asked before each block is written (e.g. the free-space reserve); throwing stops the copy. */
  beforeBlock?: (blockBytes: number) => void | Promise<void>;
  /** Told after each block is written. */
  onBlock?: (bytesSoFar: number) => void | Promise<void>;
}

/**
 * Copy `source` into `file` starting at `position`, updating `hash` with exactly the bytes
 * written.
 */
export async function writeHashed(
  source: AsyncIterable<Buffer | string>,
  file: FileHandle,
  position: number,
  hash: Hash,
  { limit = Number.POSITIVE_INFINITY, beforeBlock, onBlock }: WriteHashedOptions = {},
): Promise<WriteResult> {
  let block = Buffer.allocUnsafe(BLOCK_SIZE);
  let filled = 0;
  let written = 0;
  const flush = async () => {
    if (filled === 0) return;
    await beforeBlock?.(filled);
    const data = block.subarray(0, filled);
    hash.update(data);
    let off = 0;
    while (off < filled) {
      const { bytesWritten } = await file.write(data, off, filled - off, position + written + off);
      off += bytesWritten;
    }
    written += filled;
    filled = 0;
    await onBlock?.(written);
  };
  for await (const piece of source) {
    let chunk = typeof piece === "string" ? Buffer.from(piece) : piece;
    if (written + filled + chunk.length > limit) throw new LimitExceededError(limit);
    while (chunk.length > 0) {
      const n = Math.min(chunk.length, BLOCK_SIZE - filled);
      chunk.copy(block, filled, 0, n);
      filled += n;
      chunk = chunk.subarray(n);
      if (filled === BLOCK_SIZE) await flush();
    }
  }
  await flush();
  block = Buffer.alloc(0);
  return { bytes: written };
}
