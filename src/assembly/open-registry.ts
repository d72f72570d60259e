import { promises as fs } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { systemClock, type Clock } from "../config/clock.js";
import type { Config } from "../config/config.js";
import { Operations } from "../gc/operations.js";
import { cviRepositories } from "../cvi/owned.js";
import { createDiskIndexer } from "../index/create.js";
import type { DiskIndexer } from "../index/indexer.js";
import { RootLock, SqliteMetadata, type Metadata } from "../meta/index.js";
import { BlobClaims, BlobService, ManifestService, UploadService } from "../registry/index.js";
import { FsBlobStorage, type BlobStorage } from "../storage/index.js";
import { TaskRunner } from "../tasks/index.js";

/** Everything a registry over one data root is made of, built once and wired here. */
export interface OpenRegistry {
  readonly config: Config;
  /** Where "now" comes from for every aged row (injected by tests). */
  readonly clock: Clock;
  readonly meta: Metadata;
  /** The blob bytes and upload sessions. */
  readonly storage: BlobStorage;
  /** Per-digest coordination between uploads committing a blob and GC removing one (single-process). */
  readonly claims: BlobClaims;
  readonly blobs: BlobService;
  readonly uploads: UploadService;
  readonly manifests: ManifestService;
  /** The disk-image index: every committed manifest is inspected in the background. */
  readonly images: DiskIndexer;
  /** GC, scrub, storage report, repository deletion; their tasks and schedules. */
  readonly operations: Operations;
  /** Every background task (GC, scrub, the index passes), listed by /api/v1/tasks. */
  readonly tasks: TaskRunner;
  /** Stop every task and release the data root. */
  close(): Promise<void>;
}

export interface OpenOptions {
  clock?: Clock;
}

/**
 * The composition root: open the data root (one process owns it: RootLock), its blob storage
 * and metadata backends, and build the domain services, the disk indexer and the operations
 * over them. `dvcr serve` and the offline commands (gc, scrub, inspect, reindex) all start here;
 * nothing else constructs these parts. The backends are chosen here and only here.
 */
export async function openRegistry(config: Config, logger: Logger, options: OpenOptions = {}): Promise<OpenRegistry> {
  const clock = options.clock ?? systemClock;
  await fs.mkdir(config.root, { recursive: true });
  const lock = RootLock.acquire(config.root);
  try {
    const storage = new FsBlobStorage(config.root, { fsync: config.storage.fsync, directIo: config.storage.directIo, reserve: config.storage.reserve });
    await storage.init();
    const meta = SqliteMetadata.open(path.join(config.root, "meta.db"), { clock, retainObjectChanges: config.cvi.watchHistory });
    const claims = new BlobClaims();
    const tasks = new TaskRunner(logger);
    const blobs = new BlobService(meta, storage, clock);
    const uploads = new UploadService(meta, storage, claims);
    const manifests = new ManifestService(meta, clock);
    const operations = new Operations({
      config,
      collector: { meta, storage, claims, uploads, clock, ownedRepositories: () => cviRepositories(meta.objects) },
      scrub: { blobs: meta.blobs, storage, claims },
      storage: { meta, storage, clock },
      repositories: meta.repositories,
      tasks,
      logger,
    });
    const images = createDiskIndexer(meta, storage, config, tasks);
    // The indexer gets the manifest as parsed by the push; it never reads it back.
    manifests.onPut((event) => images.enqueue(event.digest, { manifest: event.manifest }));
    return {
      config,
      clock,
      meta,
      storage,
      claims,
      blobs,
      uploads,
      manifests,
      images,
      operations,
      tasks,
      async close() {
        images.stop();
        await tasks.stop();
        await meta.close();
        lock.release();
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}
