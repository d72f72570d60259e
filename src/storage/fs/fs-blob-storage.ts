import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Digest } from "../../oci/index.js";
import type { AppendOptions, BlobCheck, BlobReader, BlobStorage, StoredBlob, WriteCheck } from "../blob-storage.js";
import type { ReservePolicy } from "../capacity.js";
import { BlobFiles } from "./blob-files.js";
import { StorageLayout } from "./paths.js";
import { UploadFiles } from "./upload-files.js";
import { VolumeCapacity } from "./volume-capacity.js";

export interface FsBlobStorageOptions {
  /** fsync files and directories before a write is acknowledged. */
  fsync: boolean;
  /** Write upload blocks with O_DIRECT where the volume takes it. */
  directIo: boolean;
  /** Free space uploads never use. */
  reserve: ReservePolicy;
}

/**
 * The filesystem driver: blobs under `<root>/blobs/<alg>/<2 hex>/<hex>`, upload sessions under
 * `<root>/uploads/<id>` on the same volume (so committing is an atomic rename), capacity from
 * statfs of the root. Layout and rules: storage/README.md.
 */
export class FsBlobStorage implements BlobStorage {
  readonly capacity: VolumeCapacity;
  private readonly layout: StorageLayout;
  private readonly files: BlobFiles;
  private readonly uploads: UploadFiles;

  constructor(root: string, options: FsBlobStorageOptions) {
    this.layout = new StorageLayout(root);
    this.capacity = new VolumeCapacity(root, options.reserve);
    this.files = new BlobFiles(this.layout, { fsync: options.fsync });
    this.uploads = new UploadFiles(this.layout, this.files, { fsync: options.fsync, directIo: options.directIo }, this.capacity);
  }

  async init(): Promise<void> {
    await this.files.init();
    await this.uploads.init();
  }

  stat(digest: Digest): Promise<number | null> {
    return this.files.stat(digest);
  }

  read(digest: Digest, start: number, end: number): Promise<BlobReader | null> {
    return this.files.read(digest, start, end);
  }

  /** A local volume has no URL of its own: dvcr sends the bytes. */
  async redirectUrl(): Promise<string | undefined> {
    return undefined;
  }

  beginUpload(uploadId: string): Promise<void> {
    return this.uploads.create(uploadId);
  }

  appendUpload(uploadId: string, offset: number, source: AsyncIterable<Buffer | string>, options?: AppendOptions): Promise<number> {
    return this.uploads.append(uploadId, offset, source, options);
  }

  commitUpload(uploadId: string, size: number, expected: Digest): Promise<{ digest: Digest; size: number }> {
    return this.uploads.commit(uploadId, size, expected);
  }

  abortUpload(uploadId: string): Promise<void> {
    return this.uploads.remove(uploadId);
  }

  uploadSize(uploadId: string): Promise<number | null> {
    return this.uploads.fileSize(uploadId);
  }

  pruneUploads(keep: (uploadId: string) => boolean): Promise<number> {
    return this.uploads.prune(keep);
  }

  delete(digest: Digest): Promise<void> {
    return this.files.remove(digest);
  }

  list(): AsyncIterable<StoredBlob> {
    return this.files.files();
  }

  verify(digest: Digest): Promise<BlobCheck | null> {
    return this.files.rehash(digest);
  }

  quarantine(digest: Digest, check: BlobCheck): Promise<boolean> {
    return this.files.quarantine(digest, check);
  }

  /** Create and remove a small file in the root: catches read-only remounts and permission changes. */
  async checkWritable(): Promise<WriteCheck> {
    const probe = path.join(this.layout.root, `.readyz-${randomUUID()}`);
    try {
      await fs.writeFile(probe, "");
      await fs.rm(probe, { force: true });
      return { ok: true };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      return { ok: false, full: code === "ENOSPC", message: `${code}: ${(err as Error).message}` };
    }
  }

  get writePath(): { direct: boolean; refusal?: string } {
    return { direct: this.uploads.directWrites, ...(this.uploads.directRefusal ? { refusal: this.uploads.directRefusal } : {}) };
  }
}
