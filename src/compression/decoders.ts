import { spawn } from "node:child_process";
import { Duplex, type Readable } from "node:stream";
import zlib from "node:zlib";
import type { Compression } from "./detect.js";

export interface DecoderOptions {
  /** Size of the pieces the decoder emits and of its buffers. */
  pieceBytes: number;
  /** The caller's error for a corrupt stream (the importer's and the disk index's differ). */
  corrupt(compression: "gzip" | "xz", detail: string): Error;
  /** The caller's error when the xz program cannot run. */
  unavailable(detail: string): Error;
}

/** The stage that turns compressed bytes into what was compressed; null for "none". */
export function decoder(compression: Compression, options: DecoderOptions): Duplex | null {
  if (compression === "gzip") return gunzip(options);
  if (compression === "xz") return new XzDecoder(options);
  return null;
}

function gunzip(options: DecoderOptions): Duplex {
  // zlib runs on libuv's thread pool, off the event loop; Node reads concatenated members too.
  const stage = zlib.createGunzip({ chunkSize: options.pieceBytes });
  const destroy = stage.destroy.bind(stage);
  stage.destroy = (err?: Error) => destroy(err && (err as NodeJS.ErrnoException).code?.startsWith("Z_") ? options.corrupt("gzip", err.message) : err);
  return stage;
}

/**
 * The system's `xz -dc -T0` as a stream stage: liblzma decodes the blocks of a multi-block file
 * on every core (xz 5.4), native, where a JavaScript or single-threaded decoder would be the
 * bottleneck. Its exit status decides: the output is complete only when xz says so.
 */
class XzDecoder extends Duplex {
  private readonly child = spawn("xz", ["--decompress", "--stdout", "--threads=0", "--quiet"], { stdio: ["pipe", "pipe", "pipe"] });
  private stderr = "";
  private readonly exited: Promise<number | null>;

  constructor(options: DecoderOptions) {
    super({ readableHighWaterMark: options.pieceBytes, writableHighWaterMark: options.pieceBytes });
    this.exited = new Promise((resolve) => this.child.once("close", (code) => resolve(code)));
    this.child.once("error", (err) => this.destroy(options.unavailable(`cannot run xz (install xz-utils): ${err.message}`)));
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
        else this.destroy(options.corrupt("xz", this.stderr.trim().replace(/^xz: \(stdin\): /, "") || `xz exited with ${code}`));
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
