import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, statfs } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ImportError, OUT_OF_SPACE } from "./errors.js";

/** Check free space again after this many bytes. */
const CHECK_EVERY = 64 * 1024 * 1024;

export interface Spool {
  size: number;
  open(): Readable;
  /** Delete the spool file (idempotent). */
  dispose(): Promise<void>;
}

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/**
 * Write a decompressed disk to a file on the spool volume, to learn its size before the tar
 * header that needs it. Used only where nothing else tells the size (gzip: ISIZE is the size
 * mod 2^32; xz without ranged reads; no Content-Length). Free space is checked as it grows, so a
 * spool that would fill the volume (the registry's own, when the importer runs inside dvcr)
 * stops with "out of space" while `reserveBytes` are still free; the file is removed on failure.
 */
export async function spoolToFile(content: Readable, dir: string, reserveBytes: number, signal?: AbortSignal): Promise<Spool> {
  const work = await mkdtemp(path.join(dir, "dvcr-import-spool-"));
  const file = path.join(work, "disk");
  const dispose = () => rm(work, { recursive: true, force: true });
  let size = 0;
  let sinceCheck = CHECK_EVERY;
  const guard = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      size += chunk.length;
      sinceCheck += chunk.length;
      if (sinceCheck < CHECK_EVERY) return callback(null, chunk);
      sinceCheck = 0;
      freeBytes(work).then(
        (free) =>
          free - CHECK_EVERY < reserveBytes
            ? callback(new ImportError("no-space", `${OUT_OF_SPACE}: the spool volume ${dir} has ${free} bytes free, ${reserveBytes} are reserved`))
            : callback(null, chunk),
        (err: Error) => callback(err),
      );
    },
  });
  try {
    await pipeline(content, guard, createWriteStream(file, { highWaterMark: 1 << 20 }), { signal });
  } catch (err) {
    await dispose();
    if ((err as NodeJS.ErrnoException).code === "ENOSPC") throw new ImportError("no-space", `${OUT_OF_SPACE}: spool volume ${dir} is full`, { cause: err });
    throw err;
  }
  return { size, open: () => createReadStream(file, { highWaterMark: 1 << 20 }), dispose };
}
