import { STAGE_HIGH_WATER_MARK } from "./buffers.js";
import { Transform, type TransformCallback } from "node:stream";
import type { ImportProgress } from "./types.js";

/** How often progress is reported, and the window of the current speed. */
const REPORT_INTERVAL_MS = 500;
const SPEED_WINDOW_MS = 2000;

/**
 * Counts the source's bytes as they are read and reports progress at most every 500 ms:
 * the average speed since the start, the current one over the last 2 s.
 */
export class ProgressMeter extends Transform {
  bytes = 0;
  private readonly started = Date.now();
  private samples: { at: number; bytes: number }[] = [{ at: Date.now(), bytes: 0 }];
  private lastReport = 0;

  constructor(
    private readonly totalBytes: number | undefined,
    private readonly onProgress?: (p: ImportProgress) => void,
  ) {
    super({ highWaterMark: STAGE_HIGH_WATER_MARK });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.count(chunk.length);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.finish();
    callback();
  }

  /** Bytes that passed outside the stream (a blob copied without a stage of its own). */
  count(bytes: number): void {
    this.bytes += bytes;
    const now = Date.now();
    if (now - this.lastReport >= REPORT_INTERVAL_MS) this.report(now);
  }

  /** The last report, once every byte has passed. */
  finish(): void {
    this.report(Date.now());
  }

  averageSpeed(now = Date.now()): number {
    const seconds = (now - this.started) / 1000;
    return seconds > 0 ? Math.round(this.bytes / seconds) : 0;
  }

  snapshot(now = Date.now()): ImportProgress {
    while (this.samples.length > 1 && now - this.samples[0]!.at > SPEED_WINDOW_MS) this.samples.shift();
    const oldest = this.samples[0]!;
    const seconds = (now - oldest.at) / 1000;
    const currentSpeed = seconds > 0 ? Math.round((this.bytes - oldest.bytes) / seconds) : 0;
    const progress: ImportProgress = { bytes: this.bytes, currentSpeed, averageSpeed: this.averageSpeed(now) };
    if (this.totalBytes !== undefined && this.totalBytes > 0) {
      progress.totalBytes = this.totalBytes;
      progress.percent = Math.min(100, (this.bytes / this.totalBytes) * 100);
    }
    return progress;
  }

  private report(now: number): void {
    this.samples.push({ at: now, bytes: this.bytes });
    this.lastReport = now;
    this.onProgress?.(this.snapshot(now));
  }
}
