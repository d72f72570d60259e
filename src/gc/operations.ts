import type { Logger } from "pino";
import { setStorageUsageSource } from "../metrics/storage.js";
import { RegistryError } from "../oci/index.js";
import type { Registry } from "../registry/index.js";
import { GarbageCollector, type GcOptions, type GcReport } from "./collector.js";
import { TaskSchedule } from "./schedule.js";
import { Scrubber, type ScrubOptions, type ScrubReport } from "./scrub.js";
import { storageReport, type StorageReport } from "./storage-report.js";
import { BackgroundTask, type TaskStatus } from "./task.js";

/** What a caller may choose for one GC run; the rest comes from the configuration. */
export interface GcRequest {
  dryRun?: boolean;
  graceMs?: number;
  keepRepositories?: readonly string[];
}

export interface TaskOverview extends TaskStatus<unknown> {
  schedule: string;
  nextRun: string | null;
}

/**
 * The registry's background operations (zot's model: GC and scrub are tasks with their own
 * schedule, status and metrics), and the admin operations around them. The HTTP ops routes and
 * the CLI both go through here, so a run behaves the same whoever started it.
 */
export class Operations {
  private static readonly byRegistry = new WeakMap<Registry, Operations>();

  /** The operations of an open registry: one set per registry, shared by the server and the app. */
  static of(registry: Registry, logger: Logger): Operations {
    let ops = Operations.byRegistry.get(registry);
    if (!ops) Operations.byRegistry.set(registry, (ops = new Operations(registry, logger)));
    return ops;
  }

  readonly gc: BackgroundTask<GcOptions, GcReport>;
  readonly scrub: BackgroundTask<ScrubOptions, ScrubReport>;
  private readonly schedules: { gc: TaskSchedule<GcOptions>; scrub: TaskSchedule<ScrubOptions> };
  private unbindMetrics: (() => void) | undefined;

  private constructor(
    private readonly registry: Registry,
    logger: Logger,
  ) {
    const collector = new GarbageCollector(registry, logger);
    const scrubber = new Scrubber(registry, logger);
    this.gc = new BackgroundTask("gc", (options, signal) => collector.run({ ...options, signal }), logger);
    this.scrub = new BackgroundTask("scrub", (options, signal) => scrubber.run({ ...options, signal }), logger);
    const { gc, scrub } = registry.config;
    this.schedules = {
      gc: new TaskSchedule(this.gc, gc.schedule, () => this.gcOptions({}), logger),
      scrub: new TaskSchedule<ScrubOptions>(this.scrub, scrub.schedule, () => ({ repair: false }), logger),
    };
  }

  /** Start the timers and publish the storage gauges (a serving registry; not the offline CLI). */
  start(): void {
    this.schedules.gc.start();
    this.schedules.scrub.start();
    this.unbindMetrics = setStorageUsageSource(async () => {
      const volume = await this.registry.storage.capacity.stats();
      const usage = await this.registry.meta.usage();
      const directIo = this.registry.storage.writePath.direct ? 1 : 0;
      return { ...volume, blobsBytes: usage.blobsBytes, uploadsBytes: usage.uploadsBytes, uploadSessions: usage.uploads, directIo };
    });
  }

  /** Stop the timers and let a running GC or scrub stop at its next step. */
  async stop(): Promise<void> {
    this.schedules.gc.stop();
    this.schedules.scrub.stop();
    this.unbindMetrics?.();
    await Promise.all([this.gc.stop(), this.scrub.stop()]);
  }

  gcOptions(request: GcRequest): GcOptions {
    const { gc } = this.registry.config;
    return {
      dryRun: request.dryRun ?? false,
      graceMs: request.graceMs ?? gc.grace,
      uploadTtlMs: gc.uploadTtl,
      ...(request.keepRepositories ? { keepRepositories: request.keepRepositories } : {}),
    };
  }

  storage(): Promise<StorageReport> {
    const { gc } = this.registry.config;
    return storageReport(this.registry, gc.grace, gc.uploadTtl);
  }

  /** Remove every tag and manifest of a repository (bytes are reclaimed by GC after the grace period). */
  async deleteRepository(name: string): Promise<{ repository: string; manifests: number; tags: number }> {
    if (!this.registry.config.delete.enabled) throw new RegistryError("UNSUPPORTED", "deletes are disabled on this registry");
    const deleted = await this.registry.meta.repositories.delete(name);
    if (!deleted) throw new RegistryError("NAME_UNKNOWN", undefined, { detail: { name } });
    return { repository: name, ...deleted };
  }

  tasks(): TaskOverview[] {
    return [
      { ...this.gc.status(), schedule: this.schedules.gc.pattern, nextRun: this.schedules.gc.nextRun()?.toISOString() ?? null },
      { ...this.scrub.status(), schedule: this.schedules.scrub.pattern, nextRun: this.schedules.scrub.nextRun()?.toISOString() ?? null },
    ];
  }
}
