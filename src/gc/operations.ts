import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import type { RepositoryMetadata } from "../meta/index.js";
import { setStorageUsageSource } from "../metrics/storage.js";
import { RegistryError } from "../oci/index.js";
import type { Task, TaskOverview, TaskRunner } from "../tasks/index.js";
import { GarbageCollector, type GcOptions, type GcReport } from "./collector.js";
import type { CollectorPort, ScrubPort, StorageReportPort } from "./ports.js";
import { Scrubber, type ScrubOptions, type ScrubReport } from "./scrub.js";
import { storageReport, type StorageReport } from "./storage-report.js";

/** What a caller may choose for one GC run; the rest comes from the configuration. */
export interface GcRequest {
  dryRun?: boolean;
  graceMs?: number;
  keepRepositories?: readonly string[];
}

/** Everything the operations use, each through its narrow port. */
export interface OperationsDeps {
  config: Pick<Config, "gc" | "scrub" | "delete">;
  collector: CollectorPort;
  scrub: ScrubPort;
  storage: StorageReportPort;
  repositories: Pick<RepositoryMetadata, "delete">;
  tasks: TaskRunner;
  logger: Logger;
}

/**
 * The registry's background operations (zot's model: GC and scrub are tasks with their own
 * schedule, status and metrics), and the admin operations around them. Built once at assembly;
 * the HTTP ops routes and the CLI both go through here, so a run behaves the same whoever
 * started it.
 */
export class Operations {
  readonly gc: Task<GcOptions, GcReport>;
  readonly scrub: Task<ScrubOptions, ScrubReport>;
  private unbindMetrics: (() => void) | undefined;
  private readonly deletedListeners: ((repository: string) => void)[] = [];

  constructor(private readonly deps: OperationsDeps) {
    const collector = new GarbageCollector(deps.collector, deps.logger);
    const scrubber = new Scrubber(deps.scrub, deps.logger);
    const { gc, scrub } = deps.config;
    this.gc = deps.tasks.define<GcOptions, GcReport>(
      { name: "gc", work: (options, { signal }) => collector.run({ ...options, signal }) },
      { pattern: gc.schedule, params: () => this.gcOptions({}) },
    );
    this.scrub = deps.tasks.define<ScrubOptions, ScrubReport>(
      { name: "scrub", work: (options, { signal }) => scrubber.run({ ...options, signal }) },
      { pattern: scrub.schedule, params: () => ({ repair: false }) },
    );
  }

  /** Start the schedules and publish the storage gauges (a serving registry; not the offline CLI). */
  start(): void {
    this.deps.tasks.start();
    const { meta, storage } = this.deps.storage;
    this.unbindMetrics = setStorageUsageSource(async () => {
      const volume = await storage.capacity.stats();
      const usage = await meta.usage();
      const directIo = storage.writePath.direct ? 1 : 0;
      return { ...volume, blobsBytes: usage.blobsBytes, uploadsBytes: usage.uploadsBytes, uploadSessions: usage.uploads, directIo };
    });
  }

  /** Stop the schedules and every task; a running GC or scrub stops at its next step. */
  async stop(): Promise<void> {
    this.unbindMetrics?.();
    await this.deps.tasks.stop();
  }

  gcOptions(request: GcRequest): GcOptions {
    const { gc } = this.deps.config;
    return {
      dryRun: request.dryRun ?? false,
      graceMs: request.graceMs ?? gc.grace,
      uploadTtlMs: gc.uploadTtl,
      ...(request.keepRepositories ? { keepRepositories: request.keepRepositories } : {}),
    };
  }

  storage(): Promise<StorageReport> {
    const { gc } = this.deps.config;
    return storageReport(this.deps.storage, gc.grace, gc.uploadTtl);
  }

  /** Told after an admin deleted a repository. */
  onRepositoryDeleted(listener: (repository: string) => void): void {
    this.deletedListeners.push(listener);
  }

  /** Remove every tag and manifest of a repository (bytes are reclaimed by GC after the grace period). */
  async deleteRepository(name: string): Promise<{ repository: string; manifests: number; tags: number }> {
    if (!this.deps.config.delete.enabled) throw new RegistryError("UNSUPPORTED", "deletes are disabled on this registry");
    const deleted = await this.deps.repositories.delete(name);
    if (!deleted) throw new RegistryError("NAME_UNKNOWN", undefined, { detail: { name } });
    for (const listener of this.deletedListeners) listener(name);
    return { repository: name, ...deleted };
  }

  /** Every background task of the registry (GC, scrub, the disk index passes), as /api/v1/tasks shows them. */
  tasks(): TaskOverview[] {
    return this.deps.tasks.list();
  }
}
