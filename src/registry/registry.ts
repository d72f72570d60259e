import { promises as fs } from "node:fs";
import type { Config } from "../config/config.js";
import { Metadata } from "../meta/index.js";
import { BlobStore, StorageLayout, UploadFiles } from "../storage/index.js";
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
  ) {}

  static async open(config: Config): Promise<Registry> {
    const layout = new StorageLayout(config.root);
    await fs.mkdir(layout.root, { recursive: true });
    const store = new BlobStore(layout, { fsync: config.storage.fsync });
    const files = new UploadFiles(layout, store, { fsync: config.storage.fsync });
    await store.init();
    await files.init();
    const meta = Metadata.open(layout.databaseFile);
    return new Registry(
      layout,
      meta,
      new BlobService(meta, store),
      new UploadService(meta, files),
      new ManifestService(meta),
      config,
    );
  }

  close(): void {
    this.meta.close();
  }
}
