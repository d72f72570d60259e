import { STAGE_HIGH_WATER_MARK } from "./buffers.js";
import { createHash } from "node:crypto";
import { Readable, Transform, type TransformCallback } from "node:stream";
import tar from "tar-stream";
import { DEFAULT_DISK_LIMITS, detectDisk, isInspectionError, type DiskHeader } from "../disk/index.js";
import { ImportError } from "./errors.js";
import { ignore } from "./stream-util.js";

/** The uid/gid DVCR's importer writes: the qemu user of the virt-launcher image. */
const IMPORTER_OWNER = 107;

/**
 * The layer DVCR's importer pushes: a directory entry `disk`, then `disk/<file>` with the
 * disk's bytes, uncompressed (gzip is single-threaded and would cap the import's speed; pullers
 * read plain tars too). Sizes past 8 GiB get tar-stream's base-256 size field, which Go's
 * archive/tar and GNU tar read.
 */
export function diskLayerTar(fileName: string, size: number, content: Readable): Readable {
  const pack = tar.pack();
  const mtime = new Date();
  pack.entry({ name: "disk", type: "directory", mode: 0o755, uid: IMPORTER_OWNER, gid: IMPORTER_OWNER, mtime });
  const entry = pack.entry({ name: `disk/${fileName}`, type: "file", size, mode: 0o644, uid: IMPORTER_OWNER, gid: IMPORTER_OWNER, mtime }, (err) => {
    if (err) pack.destroy(sizeMismatch(err, size));
    else pack.finalize();
  });
  // The pack carries the failure to the reader; the entry and the pack must not raise it again.
  (entry as unknown as NodeJS.EventEmitter).on("error", ignore);
  content.once("error", (err) => pack.destroy(err));
  content.pipe(entry as unknown as NodeJS.WritableStream);
  return nodeReadable(pack, content);
}

/**
 * tar-stream's streams are streamx streams; hand out a Node byte stream. Bridged by events, not
 * with `Readable.from` (its async iteration costs a promise and a tick for every piece).
 */
function nodeReadable(pack: ReturnType<typeof tar.pack>, content: Readable): Readable {
  const out = new Readable({
    highWaterMark: STAGE_HIGH_WATER_MARK,
    read: () => void pack.resume(),
    destroy: (err, callback) => {
      pack.destroy();
      content.destroy();
      callback(err);
    },
  });
  pack.on("data", (piece) => {
    if (!out.push(piece as Buffer)) pack.pause();
  });
  pack.once("end", () => out.push(null));
  pack.once("error", (err: Error) => out.destroy(err));
  return out;
}

function sizeMismatch(err: Error, size: number): Error {
  if (/size mismatch/i.test(err.message)) return new ImportError("corrupt", `the disk's decompressed bytes do not add up to the ${size} bytes its source declared`);
  return err;
}

/** The layer file name must be a single path component that every filesystem takes. */
export function safeFileName(name: string): string {
  const cleaned = name.replace(/[/\\\0]/g, "_").replace(/^\.+/, "");
  const bounded = Buffer.byteLength(cleaned) > 200 ? cleaned.slice(0, 200) : cleaned;
  return bounded || "disk.img";
}

/**
 * Keeps the disk's first bytes (what every format's header needs) and detects the format as soon
 * as they have passed, so an invalid header stops the import before the rest is pushed.
 */
export class DiskDetector extends Transform {
  private head: Buffer[] = [];
  private headBytes = 0;
  header?: DiskHeader;

  constructor(private readonly size: number) {
    super({ highWaterMark: STAGE_HIGH_WATER_MARK });
  }

  private detect(): Error | null {
    try {
      this.header = detectDisk(Buffer.concat(this.head), this.size);
      this.head = [];
      return null;
    } catch (err) {
      if (isInspectionError(err)) return new ImportError("corrupt", `not a usable disk image: ${err.reason}`);
      return err as Error;
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.header && this.headBytes < DEFAULT_DISK_LIMITS.headerBytes) {
      this.head.push(chunk);
      this.headBytes += chunk.length;
      if (this.headBytes >= Math.min(DEFAULT_DISK_LIMITS.headerBytes, this.size)) {
        const err = this.detect();
        if (err) return callback(err);
      }
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.header ? null : this.detect());
  }
}

/** sha256 and length of what passes: the layer's digest (also its diff_id: it is uncompressed). */
export class DigestTap extends Transform {
  private readonly hash = createHash("sha256");
  bytes = 0;

  constructor() {
    super({ highWaterMark: STAGE_HIGH_WATER_MARK });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  digest(): string {
    return `sha256:${this.hash.digest("hex")}`;
  }
}
