import { spawn } from "node:child_process";
import { Duplex, type Readable } from "node:stream";
import zlib from "node:zlib";
import { ImportError } from "./errors.js";

export type SourceCompression = "none" | "gzip" | "xz";

/** Enough bytes to tell the compression apart. */
export const COMPRESSION_MAGIC_BYTES = 6;

const GZIP = Buffer.from([0x1f, 0x8b]);
const XZ = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** By magic bytes, never by file name or Content-Type (servers label .xz files octet-stream). */
export function detectCompression(head: Buffer): SourceCompression {
  if (head.subarray(0, GZIP.length).equals(GZIP)) return "gzip";
  if (head.subarray(0, XZ.length).equals(XZ)) return "xz";
  return "none";
}

/** `disk.qcow2.xz` is packed as `disk.qcow2`: the layer holds the decompressed disk. */
export function decompressedFileName(name: string, compression: SourceCompression): string {
  const suffixes = compression === "gzip" ? [".gz", ".gzip"] : compression === "xz" ? [".xz"] : [];
  const suffix = suffixes.find((s) => name.toLowerCase().endsWith(s) && name.length > s.length);
  return suffix ? name.slice(0, -suffix.length) : name;
}

/** The stage that turns the source's bytes into the disk's. */
export function decoder(compression: SourceCompression): Duplex | null {
  if (compression === "gzip") return gunzip();
  if (compression === "xz") return new XzDecoder();
  return null;
}

function gunzip(): Duplex {
  // zlib runs on libuv's thread pool, off the event loop; Node reads concatenated members too.
  const stage = zlib.createGunzip({ chunkSize: 256 * 1024 });
  const destroy = stage.destroy.bind(stage);
  stage.destroy = (err?: Error) => destroy(err && (err as NodeJS.ErrnoException).code?.startsWith("Z_") ? corrupt("gzip", err.message) : err);
  return stage;
}

function corrupt(what: string, detail: string): ImportError {
  return new ImportError("corrupt", `the source's ${what} stream is corrupt: ${detail}`);
}

/**
 * The system's `xz -dc -T0` as a stream stage: liblzma decodes the blocks of a multi-block file
 * on every core (xz 5.4), native, where a JavaScript or single-threaded decoder would be the
 * import's bottleneck. Its exit status decides: the output is complete only when xz says so.
 */
class XzDecoder extends Duplex {
  private readonly child = spawn("xz", ["--decompress", "--stdout", "--threads=0", "--quiet"], { stdio: ["pipe", "pipe", "pipe"] });
  private stderr = "";
  private readonly exited: Promise<number | null>;

  constructor() {
    super({ readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
    this.exited = new Promise((resolve) => this.child.once("close", (code) => resolve(code)));
    this.child.once("error", (err) => this.destroy(new ImportError("invalid", `cannot run xz (install xz-utils): ${err.message}`)));
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (d: string) => {
      if (this.stderr.length < 4096) this.stderr += d;
    });
    // xz closing its input early (corrupt data) shows as EPIPE here; the exit status says why.
    this.child.stdin.on("error", () => undefined);
    const stdout = this.child.stdout as Readable;
    stdout.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) stdout.pause();
    });
    stdout.once("end", () => {
      void this.exited.then((code) => {
        if (code === 0) this.push(null);
        else this.destroy(corrupt("xz", this.stderr.trim().replace(/^xz: \(stdin\): /, "") || `xz exited with ${code}`));
      });
    });
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.child.stdin.write(chunk)) callback();
    else this.child.stdin.once("drain", () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.child.stdin.end(callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    callback(err);
  }
}
