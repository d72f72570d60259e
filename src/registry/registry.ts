import { promises as fs } from "node:fs";
import type { Config } from "../config/config.js";
import { createDiskIndexer, type DiskIndexer } from "../index/index.js";
import { systemClock, type Clock } from "../config/clock.js";
import { RootLock, SqliteMetadata, type Metadata } from "../meta/index.js";
import { BlobClaims, BlobStore, StorageLayout, UploadFiles, VolumeCapacity } from "../storage/index.js";
import { BlobService } from "./blobs.js";
import { ManifestService } from "./manifests.js";
import { UploadService } from "./uploads.js";

/** The registry domain, assembled over one data root: blobs, uploads and manifests. */
export class Registry {
  private constructor(
    readonly layout: StorageLayout,
    readonly meta: Metadata,
    readonly blobs: BlobService,
    readonly uploads: UploadService,
    readonly manifests: ManifestService,
    readonly config: Config,
    /** The blob files themselves (GC and scrub remove and re-hash them). */
    readonly store: BlobStore,
    /** statfs of the volume and the free-space reserve uploads respect. */
    readonly capacity: VolumeCapacity,
    /** Per-digest coordination between uploads committing a blob and GC removing one. */
    readonly claims: BlobClaims,
    private readonly lock: RootLock,
    /** The disk-image index: every committed manifest is inspected in the background. */
    readonly images: DiskIndexer,
    /** Where "now" comes from for every aged row (injected by tests). */
    readonly clock: Clock,
  ) {}

  static async open(config: Config, clock: Clock = systemClock): Promise<Registry> {
    const layout = new StorageLayout(config.root);
    await fs.mkdir(layout.root, { recursive: true });
    const lock = RootLock.acquire(layout.root);
    try {
      const store = new BlobStore(layout, { fsync: config.storage.fsync });
      const capacity = new VolumeCapacity(layout.root, config.storage.reserve);
      const claims = new BlobClaims();
      const files = new UploadFiles(layout, store, { fsync: config.storage.fsync, directIo: config.storage.directIo }, capacity);
      await store.init();
      await files.init();
      const meta = SqliteMetadata.open(layout.databaseFile, { clock });
      const manifests = new ManifestService(meta, clock);
      const images = createDiskIndexer(meta, store, config);
      manifests.onPut((event) => images.enqueue(event.digest));
      return new Registry(
        layout,
        meta,
        new BlobService(meta, store, clock),
        new UploadService(meta, files, claims),
        manifests,
        config,
        store,
        capacity,
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
