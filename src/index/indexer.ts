import type { Logger } from "pino";
import { deadline } from "../disk/deadline.js";
import type { DiskLimits, DiskProbe } from "../disk/index.js";
import type { DiskImageRecord, Metadata } from "../meta/index.js";
import { setImageStatsSource } from "../metrics/images.js";
import { parseManifest, type Descriptor, type ParsedManifest } from "../oci/index.js";
import type { Task, TaskRunner, TaskTrigger } from "../tasks/index.js";
import { INSPECTOR_VERSION, emptyRecord, notADisk, type BlobReader } from "./record.js";
import { imageStats } from "./stats.js";

/**
 * The disk parsers (tar, gzip, xz, every format) load with the first inspection: a registry
 * that has nothing to inspect does not keep them in memory.
 */
const inspector = () => import("./inspector.js");

export interface IndexerOptions {
  limits: DiskLimits;
  /** Header passes at once (each reads a few KiB to a few MiB). */
  probeConcurrency: number;
  /** Checksum passes at once (each streams a whole disk: CPU and disk bandwidth). */
  checksumConcurrency: number;
  /** Jobs held in memory per queue; beyond it, work is found again by scanning the database. */
  queueCapacity: number;
}

export const DEFAULT_INDEXER_OPTIONS: Omit<IndexerOptions, "limits"> = { probeConcurrency: 2, checksumConcurrency: 1, queueCapacity: 10_000 };

interface ProbeJob {
  /** Inspect again even when a final row of this inspector version exists (reindex). */
  force: boolean;
  /** The manifest as pushed; absent when work is resumed from the database. */
  manifest?: ParsedManifest;
}

interface ChecksumJob {
  record: DiskImageRecord;
  layer: Descriptor;
  probe: DiskProbe;
}

/**
 * The disk-image indexer: two queued tasks (tasks/: `index.probe`, `index.checksum`) fed by
 * manifest pushes, each push handing over the manifest it parsed. A push only enqueues
 * (no I/O on the request path); a header pass per manifest writes format and sizes within
 * moments, then a checksum pass with its own, smaller concurrency completes the row. Rows of
 * manifests queued or half done read as `indexing`. Whatever is lost (queue overflow, restart,
 * crash) is found again by `resume`, which scans for manifests without a final row.
 */
export class DiskIndexer {
  private readonly probes: Task<ProbeJob, void>;
  private readonly checksums: Task<ChecksumJob, void>;
  private readonly shutdown = new AbortController();
  private logger: Logger | undefined;
  /** Set when a push found a queue full: the next idle moment rescans the database. */
  private overflowed = false;
  private resuming: Promise<number> | undefined;
  private unsetStats: (() => void) | undefined;

  constructor(
    private readonly meta: Metadata,
    private readonly blobs: BlobReader,
    private readonly options: IndexerOptions,
    tasks: TaskRunner,
  ) {
    // Keyed by manifest digest; results are the index rows, so the task records keep only how each run went.
    const pass = <J>(name: string, concurrency: number, work: (digest: string, job: J, signal: AbortSignal) => Promise<void>) =>
      tasks.define<J, void>({ name, concurrency, capacity: options.queueCapacity, keepResult: false, work: (job, { run, signal }) => work(run.key!, job, signal) });
    this.probes = pass("index.probe", options.probeConcurrency, (digest, job: ProbeJob, signal) => this.probe(digest, job, signal));
    this.checksums = pass("index.checksum", options.checksumConcurrency, (digest, job: ChecksumJob, signal) => this.checksum(digest, job, signal));
  }

  /** Begin work: resume what earlier runs left undone. */
  start(logger: Logger): void {
    this.logger = logger;
    this.unsetStats = setImageStatsSource(() => imageStats(this.meta, { probe: this.probes.size, checksum: this.checksums.size }));
    void this.resume();
  }

  /**
   * A manifest was committed: queue it (never blocks, never throws). A digest already indexed
   * by this inspector version is skipped when its turn comes (content-addressed: a re-push or
   * a push to another repository is the same image) unless `force` (reindex).
   */
  enqueue(digest: string, options: { force?: boolean; manifest?: ParsedManifest; trigger?: TaskTrigger } = {}): void {
    if (this.stopped || this.probes.has(digest) || this.checksums.has(digest)) return;
    const job: ProbeJob = { force: options.force ?? false, ...(options.manifest ? { manifest: options.manifest } : {}) };
    if (!this.probes.submit(job, { trigger: options.trigger ?? "push", key: digest })) this.overflowed = true;
  }

  /** Whether the digest waits in or runs through a queue. */
  isQueued(digest: string): boolean {
    return this.probes.has(digest) || this.checksums.has(digest);
  }

  /**
   * Queue every manifest without a final row of this inspector version, and drop rows of
   * manifests that are gone. Returns how many were queued.
   */
  resume(): Promise<number> {
    this.resuming ??= Promise.resolve()
      .then(async () => {
        this.overflowed = false;
        const removed = await this.meta.diskImages.removeOrphans();
        if (removed > 0) this.logger?.info({ removed }, "disk index: dropped rows of deleted manifests");
        const pending = await this.meta.diskImages.pending(INSPECTOR_VERSION, this.options.queueCapacity);
        // A full page means more may wait: look again once this batch is through.
        if (pending.length === this.options.queueCapacity) this.overflowed = true;
        for (const { digest } of pending) this.enqueue(digest, { trigger: "startup" });
        if (pending.length > 0) this.logger?.info({ queued: pending.length }, "disk index: resuming inspection");
        return pending.length;
      })
      .finally(() => (this.resuming = undefined));
    return this.resuming;
  }

  /** Inspect every manifest again (`dvcr reindex`), in pages, and wait for all of it. */
  async reindexAll(): Promise<number> {
    let after = "";
    let total = 0;
    for (;;) {
      // Pages well below the queue capacity leave room for pushes arriving meanwhile.
      const page = await this.meta.diskImages.manifestsAfter(after, Math.max(1, Math.floor(this.options.queueCapacity / 4)));
      if (page.length === 0) break;
      for (const { digest } of page) this.enqueue(digest, { force: true, trigger: "cli" });
      total += page.length;
      after = page[page.length - 1]!.digest;
      await this.idle();
    }
    await this.meta.diskImages.removeOrphans();
    return total;
  }

  /** Resolves when both queues are empty (rescanning the database after an overflow). */
  async idle(): Promise<void> {
    for (;;) {
      await this.probes.idle();
      await this.checksums.idle();
      if (this.probes.size === 0 && this.checksums.size === 0 && !this.overflowed) return;
      if (this.overflowed && this.probes.size === 0) await this.resume();
    }
  }

  /** Stop: drop queued work (it is found again at the next start) and abort running passes. */
  stop(): void {
    this.unsetStats?.();
    this.shutdown.abort(new Error("indexer stopped"));
    void this.probes.stop("the indexer stopped");
    void this.checksums.stop("the indexer stopped");
  }

  private get stopped(): boolean {
    return this.shutdown.signal.aborted;
  }

  private async probe(digest: string, job: ProbeJob, signal: AbortSignal): Promise<void> {
    const existing = await this.meta.diskImages.get(digest);
    if (!job.force && existing?.status === "ready" && existing.inspector === INSPECTOR_VERSION) return;
    const timer = deadline(this.options.limits.probeTimeoutMs, "header pass", signal);
    try {
      const manifest = job.manifest ?? (await this.storedManifest(digest));
      if (!manifest) return; // deleted while queued
      const { probeManifest } = await inspector();
      const outcome = await probeManifest(manifest, this.blobs, this.options.limits, timer.signal);
      if (signal.aborted) return;
      await this.meta.diskImages.save(digest, outcome.record);
      this.logger?.debug({ digest, format: outcome.record.format, reason: outcome.record.reason }, "disk index: header pass");
      if (outcome.checksum && !this.checksums.submit({ record: outcome.record, ...outcome.checksum }, { trigger: "push", key: digest })) this.overflowed = true;
    } catch (err) {
      await this.fail(digest, "header pass", err, signal);
    } finally {
      timer.clear();
      this.afterJob();
    }
  }

  private async checksum(digest: string, job: ChecksumJob, signal: AbortSignal): Promise<void> {
    const timer = deadline(this.options.limits.checksumTimeoutMs, "checksum pass", signal);
    try {
      const { checksumManifest } = await inspector();
      const record = await checksumManifest(job.record, job.layer, this.blobs, this.options.limits, timer.signal);
      if (signal.aborted) return;
      // A manifest deleted meanwhile leaves no row (save checks).
      await this.meta.diskImages.save(digest, record);
      this.logger?.debug({ digest, format: record.format, reason: record.reason }, "disk index: checksum pass");
    } catch (err) {
      await this.fail(digest, "checksum pass", err, signal, job.record);
    } finally {
      timer.clear();
      this.afterJob();
    }
  }

  /**
   * A fault that is not the image's (a storage error, a bug): log it and store a final row
   * saying so, under inspector version 0 so that the next start (or reindex) tries again.
   * Not after a shutdown or a cancel, which abort passes on purpose.
   */
  private async fail(digest: string, step: string, err: unknown, signal: AbortSignal, probed?: DiskImageRecord): Promise<void> {
    if (this.stopped || signal.aborted) return;
    this.logger?.error({ err, digest }, `disk index: ${step} failed`);
    const failed = notADisk(probed ?? emptyRecord(), `${step} failed: ${(err as Error).message}`);
    await this.meta.diskImages.save(digest, { ...failed, inspector: 0 }).catch(() => undefined);
  }

  /** The manifest of a digest from any repository holding it (work resumed without a push event). */
  private async storedManifest(digest: string): Promise<ParsedManifest | undefined> {
    const stored = await this.meta.diskImages.manifestContent(digest);
    return stored && parseManifest(stored.content, stored.mediaType);
  }

  private afterJob(): void {
    if (this.overflowed && !this.stopped && this.probes.size === 0) void this.resume();
  }
}
