import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { Logger } from "pino";
import { parseDigest } from "../oci/index.js";
import { gcDeleted, gcDuration, gcFreedBytes, gcLastSuccess, gcRuns } from "../metrics/gc.js";
import type { CollectorPort } from "./ports.js";

export interface GcOptions {
  /** Report what would be deleted; change nothing. */
  dryRun: boolean;
  /** Untagged manifests and unreferenced blobs younger than this are kept (ms). */
  graceMs: number;
  /** Upload sessions idle longer than this are purged (ms). */
  uploadTtlMs: number;
  /**
   * The live owners' repositories: every cvi/, vi/ and vd/ repository not listed is deleted
   * (DVCR's cleaner). Undefined: no repository is deleted.
   */
  keepRepositories?: readonly string[];
  /** Stops the run between steps (server shutdown). */
  signal?: AbortSignal;
}

export interface GcReport {
  dryRun: boolean;
  startedAt: string;
  durationSeconds: number;
  graceSeconds: number;
  repositories: { deleted: string[]; keptRecentlyActive: string[] };
  manifests: { deleted: number };
  blobs: { deleted: number; bytes: number };
  orphanFiles: { deleted: number; bytes: number };
  uploads: { purged: number; bytes: number };
  /** blobs + orphan files + upload sessions. */
  freedBytes: number;
}

/** Rows per manifest-sweep transaction: short transactions keep pushes flowing meanwhile. */
const MANIFEST_BATCH = 500;
const BLOB_PAGE = 500;

/**
 * Online mark-and-sweep over the metadata, with pushes and pulls running. Every deletion is a
 * short transaction that re-checks its condition; no lock is held across file I/O; a blob's
 * row goes before its file (a crash in between leaves an orphan file, which the orphan sweep
 * removes next time, never a row without bytes).
 */
export class GarbageCollector {
  constructor(
    private readonly port: CollectorPort,
    private readonly logger: Logger,
  ) {}

  async run(options: GcOptions): Promise<GcReport> {
    const started = Date.now();
    // Rows are aged by the injected clock; the report's own timings are wall time.
    const now = this.port.clock.now();
    const report: GcReport = {
      dryRun: options.dryRun,
      startedAt: new Date(started).toISOString(),
      durationSeconds: 0,
      graceSeconds: options.graceMs / 1000,
      repositories: { deleted: [], keptRecentlyActive: [] },
      manifests: { deleted: 0 },
      blobs: { deleted: 0, bytes: 0 },
      orphanFiles: { deleted: 0, bytes: 0 },
      uploads: { purged: 0, bytes: 0 },
      freedBytes: 0,
    };
    const cutoff = now - options.graceMs;
    const mode = options.dryRun ? "dry_run" : "sweep";
    try {
      if (options.keepRepositories) await this.sweepRepositories(options, cutoff, report);
      await this.purgeUploads(options, now - options.uploadTtlMs, report);
      await this.sweepManifests(options, cutoff, report);
      await this.sweepBlobs(options, cutoff, report);
      await this.sweepOrphanFiles(options, cutoff, report);
    } catch (err) {
      gcRuns.inc({ result: "failure", mode });
      throw err;
    } finally {
      report.durationSeconds = (Date.now() - started) / 1000;
      report.freedBytes = report.blobs.bytes + report.orphanFiles.bytes + report.uploads.bytes;
      gcDuration.observe(report.durationSeconds);
      if (!options.dryRun) {
        this.port.storage.capacity.invalidate();
        this.countDeleted(report);
      }
    }
    gcRuns.inc({ result: "success", mode });
    if (!options.dryRun) gcLastSuccess.set(Date.now() / 1000);
    this.logger.info({ gc: report }, options.dryRun ? "garbage collection dry run" : "garbage collection finished");
    return report;
  }

  private async sweepRepositories(options: GcOptions, cutoff: number, report: GcReport): Promise<void> {
    const keep = new Set(options.keepRepositories);
    for (const name of (await this.port.ownedRepositories?.()) ?? []) keep.add(name);
    for (const repo of await this.port.meta.repositories.owned()) {
      if (keep.has(repo.name)) continue;
      // A repository pushed to within the grace period may belong to an owner created after
      // the keep list was taken: leave it for the next run.
      if (repo.lastActivity > cutoff) {
        report.repositories.keptRecentlyActive.push(repo.name);
        continue;
      }
      checkAborted(options);
      if (options.dryRun || (await this.port.meta.repositories.deleteIfIdle(repo.name, cutoff))) {
        report.repositories.deleted.push(repo.name);
      } else {
        report.repositories.keptRecentlyActive.push(repo.name);
      }
    }
  }

  private async purgeUploads(options: GcOptions, idleBefore: number, report: GcReport): Promise<void> {
    for (const upload of await this.port.meta.uploads.idle(idleBefore)) {
      checkAborted(options);
      const bytes = options.dryRun ? upload.size : await this.port.uploads.purgeIfIdle(upload.id, idleBefore);
      if (bytes === null) continue;
      report.uploads.purged++;
      report.uploads.bytes += bytes;
    }
  }

  private async sweepManifests(options: GcOptions, cutoff: number, report: GcReport): Promise<void> {
    const gc = this.port.meta.collection;
    if (options.dryRun) {
      report.manifests.deleted = (await gc.deadManifests(cutoff, -1)).length;
      return;
    }
    for (;;) {
      checkAborted(options);
      const deleted = await gc.deleteDeadManifests(cutoff, MANIFEST_BATCH);
      report.manifests.deleted += deleted.length;
      if (deleted.length < MANIFEST_BATCH) return;
      await yieldToEventLoop();
    }
  }

  private async sweepBlobs(options: GcOptions, cutoff: number, report: GcReport): Promise<void> {
    const { meta, claims, storage } = this.port;
    let after = "";
    for (;;) {
      checkAborted(options);
      const page = await meta.collection.collectableBlobs(cutoff, after, BLOB_PAGE);
      if (page.length === 0) return;
      after = page[page.length - 1]!.digest;
      for (const blob of page) {
        if (options.dryRun) {
          report.blobs.deleted++;
          report.blobs.bytes += blob.size;
          continue;
        }
        // An upload committing this digest either holds its claim (we skip) or, claiming after
        // us, waits for our unlink before it renames the new file into place.
        const finish = claims.beginRemoval(blob.digest);
        if (!finish) continue;
        try {
          const size = await meta.collection.deleteBlobIfCollectable(blob.digest, cutoff);
          if (size === undefined) continue;
          await storage.delete(parseDigest(blob.digest));
          report.blobs.deleted++;
          report.blobs.bytes += size;
        } finally {
          finish();
        }
      }
      await yieldToEventLoop();
    }
  }

  /** Files under blobs/ with no row: a crash between rename and commit, or between row and file delete. */
  private async sweepOrphanFiles(options: GcOptions, cutoff: number, report: GcReport): Promise<void> {
    const { meta, claims, storage } = this.port;
    for await (const file of storage.list()) {
      checkAborted(options);
      if (file.modifiedAt > cutoff || (await meta.blobs.sizeOf(file.digest.value)) !== undefined) continue;
      if (options.dryRun) {
        report.orphanFiles.deleted++;
        report.orphanFiles.bytes += file.size;
        continue;
      }
      const { digest } = file;
      const finish = claims.beginRemoval(digest.value);
      if (!finish) continue;
      try {
        // Re-checked once the removal is ours: an upload may have committed meanwhile.
        if ((await meta.blobs.sizeOf(digest.value)) !== undefined) continue;
        await storage.delete(digest);
        report.orphanFiles.deleted++;
        report.orphanFiles.bytes += file.size;
      } finally {
        finish();
      }
    }
  }

  private countDeleted(report: GcReport): void {
    gcDeleted.inc({ kind: "repository" }, report.repositories.deleted.length);
    gcDeleted.inc({ kind: "manifest" }, report.manifests.deleted);
    gcDeleted.inc({ kind: "blob" }, report.blobs.deleted);
    gcDeleted.inc({ kind: "orphan" }, report.orphanFiles.deleted);
    gcDeleted.inc({ kind: "upload" }, report.uploads.purged);
    gcFreedBytes.inc({ kind: "blob" }, report.blobs.bytes);
    gcFreedBytes.inc({ kind: "orphan" }, report.orphanFiles.bytes);
    gcFreedBytes.inc({ kind: "upload" }, report.uploads.bytes);
  }
}

function checkAborted(options: GcOptions): void {
  options.signal?.throwIfAborted();
}
