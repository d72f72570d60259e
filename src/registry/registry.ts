import { promises as fs } from "node:fs";
import path from "node:path";
import type { Config } from "../config/config.js";
import { createDiskIndexer, type DiskIndexer } from "../index/index.js";
import { systemClock, type Clock } from "../config/clock.js";
import { RootLock, SqliteMetadata, type Metadata } from "../meta/index.js";
import { FsBlobStorage, type BlobStorage } from "../storage/index.js";
import { BlobClaims } from "./single-process.js";
import { BlobService } from "./blobs.js";
import { ManifestService } from "./manifests.js";
import { UploadService } from "./uploads.js";

/** The registry domain, assembled over one data root: blobs, uploads and manifests. */
export class Registry {
  private constructor(
    readonly meta: Metadata,
    readonly blobs: BlobService,
    readonly uploads: UploadService,
    readonly manifests: ManifestService,
    readonly config: Config,
    /** The blob bytes and upload sessions (GC and scrub remove and re-hash them). */
    readonly storage: BlobStorage,
    /** Per-digest coordination between uploads committing a blob and GC removing one. */
    readonly claims: BlobClaims,
    private readonly lock: RootLock,
    /** The disk-image index: every committed manifest is inspected in the background. */
    readonly images: DiskIndexer,
    /** Where "now" comes from for every aged row (injected by tests). */
    readonly clock: Clock,
  ) {}

  static async open(config: Config, clock: Clock = systemClock): Promise<Registry> {
    await fs.mkdir(config.root, { recursive: true });
    const lock = RootLock.acquire(config.root);
    try {
      const storage = new FsBlobStorage(config.root, { fsync: config.storage.fsync, directIo: config.storage.directIo, reserve: config.storage.reserve });
      const claims = new BlobClaims();
      await storage.init();
      const meta = SqliteMetadata.open(path.join(config.root, "meta.db"), { clock });
      const manifests = new ManifestService(meta, clock);
      const images = createDiskIndexer(meta, storage, config);
      manifests.onPut((event) => images.enqueue(event.digest));
      return new Registry(
        meta,
        new BlobService(meta, storage, clock),
        new UploadService(meta, storage, claims),
        manifests,
        config,
        storage,
        claims,
        lock,
        images,
        clock,
      );
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.images.stop();
    await this.meta.close();
    this.lock.release();
  }
}
