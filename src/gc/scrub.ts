import type { Logger } from "pino";
import { parseDigest, type Digest } from "../oci/index.js";
import {
  scrubCheckedBlobs,
  scrubCheckedBytes,
  scrubCorruptBlobs,
  scrubDuration,
  scrubLastRun,
  scrubQuarantinedBlobs,
  scrubRuns,
} from "../metrics/scrub.js";
import type { ScrubPort } from "./ports.js";
import type { BlobCheck } from "../storage/index.js";

export interface ScrubOptions {
  /** Only the blobs this repository links (default: every stored blob). */
  repository?: string;
  /** Take corrupt and missing blobs out of service (quarantine/ and forget their rows). */
  repair: boolean;
  signal?: AbortSignal;
}

export interface ScrubReport {
  startedAt: string;
  durationSeconds: number;
  repository?: string;
  repair: boolean;
  checked: number;
  bytes: number;
  /** Blobs whose bytes do not hash to their digest (or whose size differs from the row). */
  corrupt: string[];
  /** Blobs the metadata lists whose file is gone. */
  missing: string[];
  /** Taken out of service by --repair: a re-push of the same blob stores it afresh. */
  quarantined: string[];
}

const PAGE = 200;

/**
 * Re-hash stored blobs against their digests (bit rot, a disk's lies, hands in the data root).
 * One blob at a time, 1 MiB reads. Repair moves a bad file to quarantine/ and forgets its row,
 * so HEAD says 404 and the next push of that blob uploads good bytes instead of skipping it.
 */
export class Scrubber {
  constructor(
    private readonly port: ScrubPort,
    private readonly logger: Logger,
  ) {}

  async run(options: ScrubOptions): Promise<ScrubReport> {
    const started = Date.now();
    const report: ScrubReport = {
      startedAt: new Date(started).toISOString(),
      durationSeconds: 0,
      ...(options.repository !== undefined ? { repository: options.repository } : {}),
      repair: options.repair,
      checked: 0,
      bytes: 0,
      corrupt: [],
      missing: [],
      quarantined: [],
    };
    try {
      let after = "";
      for (;;) {
        const page = await this.port.blobs.page(after, PAGE, options.repository);
        if (page.length === 0) break;
        after = page[page.length - 1]!.digest;
        for (const row of page) {
          options.signal?.throwIfAborted();
          await this.check(parseDigest(row.digest), row.size, options, report);
        }
      }
    } catch (err) {
      scrubRuns.inc({ result: "failure" });
      throw err;
    } finally {
      report.durationSeconds = (Date.now() - started) / 1000;
      scrubDuration.observe(report.durationSeconds);
    }
    scrubRuns.inc({ result: "success" });
    scrubCorruptBlobs.set(report.corrupt.length + report.missing.length);
    scrubLastRun.set(Date.now() / 1000);
    const bad = report.corrupt.length + report.missing.length;
    this.logger[bad > 0 ? "error" : "info"]({ scrub: report }, bad > 0 ? "scrub found damaged blobs" : "scrub finished: every blob matches its digest");
    return report;
  }

  private async check(digest: Digest, recordedSize: number, options: ScrubOptions, report: ScrubReport): Promise<void> {
    const { blobs, storage } = this.port;
    const stored = await storage.verify(digest);
    if (stored === null) {
      // Collected by GC while we were on the way: not damage.
      if ((await blobs.sizeOf(digest.value)) === undefined) return;
      report.missing.push(digest.value);
      if (options.repair && (await this.forgetMissing(digest))) report.quarantined.push(digest.value);
      return;
    }
    report.checked++;
    report.bytes += stored.size;
    scrubCheckedBlobs.inc();
    scrubCheckedBytes.inc(stored.size);
    if (stored.actual.value === digest.value && stored.size === recordedSize) return;
    this.logger.error({ digest: digest.value, actual: stored.actual.value, size: stored.size, recordedSize }, "blob bytes do not match their digest");
    report.corrupt.push(digest.value);
    if (options.repair && (await this.quarantine(digest, stored))) report.quarantined.push(digest.value);
  }

  /** Take the judged object (not a replacement) out of service, then forget the row. */
  private async quarantine(digest: Digest, check: BlobCheck): Promise<boolean> {
    const finish = this.port.claims.beginRemoval(digest.value);
    // An upload of this very blob is committing good bytes right now: it heals the blob itself.
    if (!finish) return false;
    try {
      if (!(await this.port.storage.quarantine(digest, check))) return false;
      await this.port.blobs.forget(digest.value);
      scrubQuarantinedBlobs.inc();
      this.logger.warn({ digest: digest.value }, "corrupt blob quarantined");
      return true;
    } finally {
      finish();
    }
  }

  /** A row whose file is gone: forget it, so the blob can be pushed again. */
  private async forgetMissing(digest: Digest): Promise<boolean> {
    const finish = this.port.claims.beginRemoval(digest.value);
    if (!finish) return false;
    try {
      // Holding the removal, no upload can rename a file in: if one is there, it was re-pushed.
      if ((await this.port.storage.stat(digest)) !== null) return false;
      const forgotten = await this.port.blobs.forget(digest.value);
      if (forgotten) scrubQuarantinedBlobs.inc();
      return forgotten;
    } finally {
      finish();
    }
  }
}
