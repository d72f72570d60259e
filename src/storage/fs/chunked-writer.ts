import type { Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { DIRECT_ALIGNMENT, UPLOAD_BLOCKS } from "./aligned-blocks.js";
import type { BlockSource } from "../block-pool.js";

/**
 * Blocks queued for the kernel while the next ones fill and hash. Copying a block into the page
 * cache costs about as much as receiving and hashing it (the kernel's side of a buffered write,
 * measured with `dd` and `perf`), so waiting for each write before reading on makes a push take
 * the sum of the two; a short queue written by libuv's thread pool makes it take the larger.
 * Memory stays at this many blocks whatever the blob size.
 */
export const BLOCKS_IN_FLIGHT = 4;

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
  /**
   * Where the blocks come from. Network reads arrive in ~64 KiB pieces; hashing and writing
   * them one by one costs a third of the throughput, so they are gathered into blocks (1 MiB).
   */
  blocks?: BlockSource;
  /**
   * The same file opened with O_DIRECT. Aligned blocks at aligned offsets are written through
   * it, bypassing the page cache; everything else (an unaligned start, a short tail, heap
   * blocks) goes through `file`. Both reach the disk by the caller's fsync.
   */
  direct?: DirectTarget;
}

export interface DirectTarget {
  file: FileHandle;
  /** Called once if the kernel refuses a direct write (EINVAL); the rest goes through `file`. */
  onRefused(error: unknown): void;
}

/**
 * Copy `source` into `file` starting at `position`, updating `hash` with exactly the bytes
 * written, in order. When this resolves every byte is written (not yet fsync'd); when it
 * rejects, no write is still running, so the caller may truncate and close the file at once.
 */
export async function writeHashed(
  source: AsyncIterable<Buffer | string>,
  file: FileHandle,
  position: number,
  hash: Hash,
  { limit = Number.POSITIVE_INFINITY, beforeBlock, blocks = UPLOAD_BLOCKS, direct }: WriteHashedOptions = {},
): Promise<WriteResult> {
  const blockSize = blocks.blockSize;
  // An unaligned start (a PATCH after a short one) makes the first block shorter, so that every
  // later block starts on an aligned offset and can be written directly.
  let blockLimit = direct ? blockSize - (position % DIRECT_ALIGNMENT) : blockSize;
  let directFile = direct?.file;
  // Blocks whose write has finished, ready to be filled again.
  const spare: Buffer[] = [];
  // Writes in flight, oldest first. They never reject: a failure is kept and thrown by us.
  const inFlight: Promise<void>[] = [];
  // The last buffered write (never rejects): the next buffered write starts after it.
  let lastBuffered: Promise<unknown> = Promise.resolve();
  let failure: { error: unknown } | undefined;
  let block: Buffer = blocks.take();
  let filled = 0;
  let queued = 0;

  const writeAll = async (target: FileHandle, data: Buffer, at: number): Promise<void> => {
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await target.write(data, off, data.length - off, at + off);
      off += bytesWritten;
    }
  };
  /** How many leading bytes of `data` (to be written at `at`) may go through O_DIRECT. */
  const directBytes = (data: Buffer, at: number): number =>
    directFile && at % DIRECT_ALIGNMENT === 0 && blocks.isAligned?.(data) ? data.length - (data.length % DIRECT_ALIGNMENT) : 0;
  /** Write `data` at `at`: its first `aligned` bytes directly (while the volume takes it), the rest buffered. */
  const writeBlock = async (data: Buffer, at: number, aligned: number): Promise<void> => {
    if (aligned > 0 && directFile) {
      try {
        await writeAll(directFile, data.subarray(0, aligned), at);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw err;
        // This filesystem takes no direct writes after all: the same bytes, buffered, from now on.
        directFile = undefined;
        direct?.onRefused(err);
        await writeAll(file, data.subarray(0, aligned), at);
      }
    }
    if (aligned < data.length) await writeAll(file, data.subarray(aligned), at + aligned);
  };
  const throwIfFailed = () => {
    if (failure) throw failure.error;
  };
  const flush = async () => {
    if (filled === 0) return;
    await beforeBlock?.(filled);
    const data = block.subarray(0, filled);
    const owner = block;
    const at = position + queued;
    // On the main thread: hashing on a worker thread (blocks read in place from a shared arena)
    // was tried and measured: no faster, alone or 3 pushes at once, on this 2-core machine, for
    // +0.4 s of CPU per GiB and +17 MiB of memory (the client and the kernel use the other core).
    hash.update(data);
    // Buffered writes run one after another: concurrent ones contend for the file's lock and
    // measured slower. Direct writes run side by side (up to BLOCKS_IN_FLIGHT): each waits for
    // the device, and several in flight hide its latency (+10–18 % for a 1 GiB push on this VM's
    // disk; more where the volume is remote, e.g. a network block device). Bytes past the
    // committed size only count once all are written and fsync'd, so the order does not matter.
    const aligned = directBytes(data, at);
    const previous = aligned > 0 ? Promise.resolve() : lastBuffered;
    const written = previous.then(() => (failure ? undefined : writeBlock(data, at, aligned)));
    if (previous === lastBuffered) lastBuffered = written.catch(() => undefined);
    inFlight.push(
      written
        .then(
          () => undefined,
          (error: unknown) => void (failure ??= { error }),
        )
        // Failed or not, the write has let go of the block: back to the spares (an arena block
        // not given back would be lost to every later upload).
        .then(() => void spare.push(owner)),
    );
    queued += filled;
    filled = 0;
    // At once, before any await: `block` must never name a block a write still holds.
    block = spare.pop() ?? blocks.take();
    if (inFlight.length >= BLOCKS_IN_FLIGHT) await inFlight.shift();
    throwIfFailed();
  };

  try {
    for await (const piece of source) {
      let chunk = typeof piece === "string" ? Buffer.from(piece) : piece;
      if (queued + filled + chunk.length > limit) throw new LimitExceededError(limit);
      while (chunk.length > 0) {
        const n = Math.min(chunk.length, blockLimit - filled);
        chunk.copy(block, filled, 0, n);
        filled += n;
        chunk = chunk.subarray(n);
        if (filled === blockLimit) {
          await flush();
          blockLimit = blockSize;
        }
      }
    }
    await flush();
  } finally {
    // Whatever happened, no write may outlive this call (the caller truncates and closes next).
    await Promise.all(inFlight);
    // Every write has ended: no block is referenced any more.
    for (const b of [block, ...spare]) blocks.give(b);
  }
  throwIfFailed();
  return { bytes: queued };
}
