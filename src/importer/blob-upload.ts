import { Readable } from "node:stream";
import { STAGE_HIGH_WATER_MARK } from "./buffers.js";
import { pieces } from "./stream-util.js";
import { ImportError, isImportError } from "./errors.js";
import type { RegistryClient } from "./registry-client.js";
import { RetryBudget, type RetryPolicy } from "./retry.js";

export interface BlobUploadOptions {
  chunkBytes: number;
  policy: RetryPolicy;
  signal?: AbortSignal;
  /** The digest, known once `content` has ended. */
  digest(): string;
  /** Runs after the last byte is sent and before the blob is committed: a throw leaves nothing behind. */
  beforeCommit(): void | Promise<void>;
}

/**
 * Stream `content` into an upload session in `chunkBytes` PATCHes with `Content-Range`, one
 * chunk in flight while the next fills (two chunks of memory, whatever the blob's size).
 * A chunk that fails on the way is sent again from where the session says it stands (GET on the
 * session: its `Range`); a registry that cannot answer that (distribution 2.8 answers 404 after
 * a chunk) gets the whole chunk again at its start. Any failure cancels the session.
 */
export async function uploadBlob(client: RegistryClient, repository: string, content: Readable, options: BlobUploadOptions): Promise<{ digest: string; size: number }> {
  const budget = new RetryBudget(options.policy, options.signal);
  let location = await withRetries(budget, "opening an upload", () => client.startUpload(repository));
  try {
    const buffers = [Buffer.allocUnsafe(options.chunkBytes), Buffer.allocUnsafe(options.chunkBytes)];
    let current = 0;
    let filled = 0;
    let offset = 0;
    let inFlight: Promise<void> = Promise.resolve();

    const send = async (chunk: Buffer, start: number) => {
      for (let from = start; ; ) {
        try {
          location = await client.uploadChunk(repository, location, from === start ? chunk : chunk.subarray(from - start), from);
          budget.progressed();
          return;
        } catch (err) {
          await budget.failed(err, `upload of chunk ${start}-${start + chunk.length - 1}`);
          from = await resumePoint(client, repository, location, start, chunk.length, (l) => (location = l));
          if (from === start + chunk.length) return;
        }
      }
    };
    const flush = async () => {
      const chunk = buffers[current]!.subarray(0, filled);
      await inFlight;
      inFlight = send(chunk, offset);
      // Observed through the await on the next flush; keep an early failure from being unhandled.
      inFlight.catch(() => undefined);
      offset += filled;
      filled = 0;
      current = 1 - current;
    };

    for await (const data of pieces(content)) {
      for (let used = 0; used < data.length; ) {
        const n = data.copy(buffers[current]!, filled, used);
        filled += n;
        used += n;
        if (filled === options.chunkBytes) await flush();
      }
    }
    if (filled > 0) await flush();
    await inFlight;
    await options.beforeCommit();
    const digest = options.digest();
    await withRetries(budget, "closing the upload", () => client.finishUpload(repository, location, digest));
    return { digest, size: offset };
  } catch (err) {
    await client.cancelUpload(repository, location).catch(() => undefined);
    throw err;
  }
}

/** A blob that can be read again from any offset: another registry's, by Range. */
export interface RereadableBlob {
  digest: string;
  size: number;
  /** Bytes [start, end] of the blob. */
  read(start: number, end: number): Promise<Readable>;
}

export interface BlobCopyOptions {
  /** Bytes per PATCH: each is one ranged read of the source, streamed through, sent again if cut. */
  segmentBytes: number;
  policy: RetryPolicy;
  signal?: AbortSignal;
  /** Told how many more bytes have passed (each byte once, also when a segment is read again). */
  onBytes?(n: number): void;
}

/**
 * Copy a blob the source can read again from any offset, as it is: each segment is one ranged
 * read piped straight into one PATCH, so no byte is copied into a chunk buffer and nothing is
 * held for a resend (a cut segment is read again from where the session stands). Nothing is
 * hashed here: the destination verifies the digest before it commits the blob (a mismatch is
 * refused, and reported as corrupt).
 */
export async function copyBlob(client: RegistryClient, repository: string, blob: RereadableBlob, options: BlobCopyOptions): Promise<void> {
  const budget = new RetryBudget(options.policy, options.signal);
  // Progress is the furthest byte read: bytes read again after a cut are not counted twice.
  let reported = 0;
  const report = (position: number) => {
    if (position <= reported) return;
    options.onBytes?.(position - reported);
    reported = position;
  };
  let location = await withRetries(budget, "opening an upload", () => client.startUpload(repository));
  try {
    for (let offset = 0; offset < blob.size; ) {
      const end = Math.min(offset + options.segmentBytes, blob.size);
      const open = async () => counted(await blob.read(offset, end - 1), offset, report);
      try {
        location = await client.uploadStream(repository, location, open, offset, end - offset);
        budget.progressed();
        offset = end;
      } catch (err) {
        await budget.failed(err, `copy of bytes ${offset}-${end - 1} of ${blob.digest}`);
        offset = await resumePoint(client, repository, location, offset, end - offset, (l) => (location = l));
      }
    }
    try {
      await withRetries(budget, "closing the upload", () => client.finishUpload(repository, location, blob.digest));
    } catch (err) {
      if (isImportError(err) && err.kind === "invalid" && /DIGEST_INVALID/.test(err.message)) {
        throw new ImportError("corrupt", `layer ${blob.digest} did not arrive intact: ${err.message}`, { cause: err });
      }
      throw err;
    }
  } catch (err) {
    await client.cancelUpload(repository, location).catch(() => undefined);
    throw err;
  }
}

/** The same bytes, the position reached told as the request reads them (a "data" listener would start the flow early). */
function counted(stream: Readable, start: number, report: (position: number) => void): Readable {
  async function* reported(): AsyncGenerator<Buffer> {
    let position = start;
    for await (const piece of pieces(stream)) {
      position += piece.length;
      report(position);
      yield piece;
    }
  }
  return Readable.from(reported(), { objectMode: false, highWaterMark: STAGE_HIGH_WATER_MARK });
}

async function resumePoint(client: RegistryClient, repository: string, location: string, start: number, length: number, relocate: (l: string) => void): Promise<number> {
  let status;
  try {
    status = await client.uploadedBytes(repository, location);
  } catch {
    return start;
  }
  relocate(status.location);
  if (status.bytes < start) throw new ImportError("transient", `the registry's upload session lost acknowledged bytes (holds ${status.bytes}, ${start} were acknowledged)`);
  return Math.min(status.bytes, start + length);
}

async function withRetries<T>(budget: RetryBudget, what: string, work: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      const value = await work();
      budget.progressed();
      return value;
    } catch (err) {
      await budget.failed(err, what);
    }
  }
}
