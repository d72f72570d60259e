import type { Database } from "better-sqlite3";
import { BlobTable } from "./blobs.js";
import { openDatabase } from "./database.js";
import { DiskIndexTable } from "./disk-index.js";
import { GcTable } from "./gc.js";
import { ManifestTable } from "./manifests.js";
import { RepositoryTable } from "./repositories.js";
import { UploadTable } from "./uploads.js";

/**
 * The metadata store: every table behind small synchronous functions. Callers group calls
 * that must commit together with `transaction`; better-sqlite3 runs it as one BEGIN IMMEDIATE
 * ... COMMIT, so no lock is ever held across I/O (there is no await inside).
 */
export class Metadata {
  readonly repositories: RepositoryTable;
  readonly blobs: BlobTable;
  readonly manifests: ManifestTable;
  readonly uploads: UploadTable;
  readonly diskImages: DiskIndexTable;
  readonly gc: GcTable;

  private constructor(private readonly db: Database) {
    this.repositories = new RepositoryTable(db);
    this.blobs = new BlobTable(db);
    this.manifests = new ManifestTable(db);
    this.uploads = new UploadTable(db);
    this.diskImages = new DiskIndexTable(db);
    this.gc = new GcTable(db);
  }

  static open(file: string): Metadata {
    return new Metadata(openDatabase(file));
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
