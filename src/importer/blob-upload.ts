import type { Readable } from "node:stream";
import { ImportError } from "./errors.js";
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

    for await (const data of content as AsyncIterable<Buffer>) {
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
