import type { Database, Statement } from "better-sqlite3";
import { systemClock, type Clock } from "../../config/clock.js";
import type {
  BlobMetadata,
  CollectionMetadata,
  DiskImageMetadata,
  ManifestMetadata,
  ManifestReferences,
  Metadata,
  RepositoryMetadata,
  UploadMetadata,
} from "../metadata.js";
import type { ObjectMetadata } from "../objects.js";
import type { ExpectedReference, MetadataUsage, ReferenceProblem } from "../records.js";
import { BlobTable } from "./blobs.js";
import { CollectionQueries } from "./collection.js";
import { openDatabase } from "./database.js";
import { DiskIndexTable } from "./disk-index.js";
import { GraceClocks } from "./grace-clocks.js";
import { KubeObjectTable } from "./kube-objects.js";
import { ManifestTable } from "./manifests.js";
import { RepositoryRemoval } from "./repository-removal.js";
import { RepositoryTable } from "./repositories.js";
import { UploadTable } from "./uploads.js";

export interface SqliteMetadataOptions {
  clock?: Clock;
  /** Object changes kept for watches to resume from (default 10 000). */
  retainObjectChanges?: number;
}

/**
 * The metadata interface over one SQLite file (better-sqlite3, WAL). better-sqlite3 is
 * synchronous: each operation runs to completion, its transaction (BEGIN IMMEDIATE … COMMIT)
 * included, before the returned promise settles, so no lock is ever held across I/O and the
 * promise costs one microtask.
 */
export class SqliteMetadata implements Metadata {
  readonly repositories: RepositoryMetadata;
  readonly blobs: BlobMetadata;
  readonly manifests: ManifestMetadata;
  readonly uploads: UploadMetadata;
  readonly collection: CollectionMetadata;
  readonly diskImages: DiskImageMetadata;
  readonly objects: ObjectMetadata;
  private readonly kubeObjects: KubeObjectTable;
  private readonly usageStmt: Statement<[], MetadataUsage>;

  private constructor(private readonly db: Database, clock: Clock, retainObjectChanges: number) {
    const repositories = new RepositoryTable(db, clock);
    const blobs = new BlobTable(db, repositories, clock);
    const manifests = new ManifestTable(db, clock);
    const uploads = new UploadTable(db, clock);
    const clocks = new GraceClocks(db);
    const removal = new RepositoryRemoval(db, clocks);
    const collection = new CollectionQueries(db, clocks, (digest) => blobs.forget(digest));
    const diskImages = new DiskIndexTable(db, clock);
    const objects = new KubeObjectTable(db, retainObjectChanges);
    this.kubeObjects = objects;
    const tx = <T>(fn: () => T): T => db.transaction(fn).immediate();
    const snapshot = <T>(fn: () => T): T => db.transaction(fn).deferred();
    this.usageStmt = db.prepare(
      `SELECT (SELECT COALESCE(SUM(size), 0) FROM blobs) AS blobsBytes, (SELECT COUNT(*) FROM blobs) AS blobs,
              (SELECT COALESCE(SUM(size), 0) FROM uploads) AS uploadsBytes, (SELECT COUNT(*) FROM uploads) AS uploads`,
    );

    this.repositories = {
      exists: async (name) => repositories.idOf(name) !== undefined,
      list: async (page) => repositories.list(page),
      owned: async () => removal.owned(),
      delete: async (name) => tx(() => removal.delete(name)),
      deleteIfIdle: async (name, idleBefore) => tx(() => removal.deleteIfIdle(name, idleBefore)),
    };
    this.blobs = {
      sizeOf: async (digest) => blobs.sizeOf(digest),
      linked: async (repository, digest) => blobs.linked(repository, digest),
      holders: async (digest) => blobs.holders(digest),
      mount: async (repository, digest, sources) => tx(() => blobs.mount(repository, digest, sources)),
      commitUpload: async (uploadId, repository, digest, size) =>
        tx(() => {
          blobs.record(repository, digest, size);
          uploads.delete(uploadId);
        }),
      unlink: async (repository, digest) => blobs.unlink(repository, digest),
      touch: async (digest) => blobs.touch(digest),
      forget: async (digest) => tx(() => blobs.forget(digest)),
      page: async (after, limit, repository) => blobs.page(after, limit, repository),
    };
    this.manifests = {
      get: async (repository, digest) => manifests.get(repository, digest),
      getByTag: async (repository, tag) => manifests.getByTag(repository, tag),
      put: async (repository, manifest, tags, references) => {
        try {
          tx(() => {
            const repositoryId = repositories.ensure(repository);
            const problem = checkReferences(references, (kind, digest) =>
              kind === "blob" ? blobs.linkedSizeOf(repositoryId, digest) : manifests.sizeIn(repositoryId, digest),
            );
            // Thrown to roll back: a refused manifest leaves not even its repository behind.
            if (problem) throw new Refused(problem);
            manifests.put(repositoryId, manifest, tags);
          });
          return undefined;
        } catch (err) {
          if (err instanceof Refused) return err.problem;
          throw err;
        }
      },
      touch: async (repository, digest) => manifests.touch(repository, digest),
      delete: async (repository, digest) => manifests.delete(repository, digest),
      deleteTag: async (repository, tag) => manifests.deleteTag(repository, tag),
      listTags: async (repository, page) => manifests.listTags(repository, page),
      referrers: async (repository, subject) => manifests.referrers(repository, subject),
    };
    this.uploads = {
      create: async (id, repository) => uploads.create(id, repository),
      get: async (id) => uploads.get(id),
      setSize: async (id, size) => uploads.setSize(id, size),
      delete: async (id) => uploads.delete(id),
      list: async () => uploads.list(),
      idle: async (idleBefore) => uploads.idle(idleBefore),
      deleteIfIdle: async (id, idleBefore) => uploads.deleteIfIdle(id, idleBefore),
    };
    this.collection = {
      deadManifests: async (cutoff, limit) => collection.deadManifests(cutoff, limit),
      deleteDeadManifests: async (cutoff, limit) => tx(() => collection.deleteDeadManifests(cutoff, limit)),
      collectableBlobs: async (cutoff, after, limit) => collection.collectableBlobs(cutoff, after, limit),
      deleteBlobIfCollectable: async (digest, cutoff) => tx(() => collection.deleteBlobIfCollectable(digest, cutoff)),
      reclaimable: async (cutoff) => collection.reclaimable(cutoff),
    };
    this.diskImages = {
      get: async (digest) => diskImages.get(digest),
      save: async (digest, record) => diskImages.save(digest, record),
      listTagged: async (query) => diskImages.listTagged(query),
      allTagged: async () => diskImages.allTagged(),
      byTag: async (repository, tag) => diskImages.byTag(repository, tag),
      byManifest: async (repository, digest) => diskImages.byManifest(repository, digest),
      manifestContent: async (digest) => diskImages.manifestContent(digest),
      pending: async (inspector, limit) => diskImages.pending(inspector, limit),
      manifestsAfter: async (digest, limit) => diskImages.manifestsAfter(digest, limit),
      removeOrphans: async () => diskImages.removeOrphans(),
    };
    this.objects = {
      get: async (resource, name) => objects.get(resource, name),
      list: async (resource) => snapshot(() => objects.list(resource)),
      put: async (resource, object, expected) => {
        const change = tx(() => objects.put(resource, object, expected));
        objects.publish(change);
        return change.object;
      },
      remove: async (resource, name, expected) => {
        const change = tx(() => objects.remove(resource, name, expected));
        objects.publish(change);
        return change.object;
      },
      changesSince: async (resource, resourceVersion) => snapshot(() => objects.changesSince(resource, resourceVersion)),
      subscribe: (listener) => objects.subscribe(listener),
    };
  }

  /** Open (creating and migrating as needed) the database file. */
  static open(file: string, options: SqliteMetadataOptions = {}): SqliteMetadata {
    const clock = options.clock ?? systemClock;
    return new SqliteMetadata(openDatabase(file, clock), clock, options.retainObjectChanges ?? 10_000);
  }

  async usage(): Promise<MetadataUsage> {
    return this.usageStmt.get()!;
  }

  async close(): Promise<void> {
    this.kubeObjects.clearListeners();
    if (this.db.open) this.db.close();
  }
}

class Refused extends Error {
  constructor(readonly problem: ReferenceProblem) {
    super(`manifest references a ${problem.kind} the repository does not hold at that size`);
  }
}

/** The first reference the repository does not hold at the descriptor's size. */
function checkReferences(
  references: ManifestReferences,
  storedSize: (kind: "blob" | "manifest", digest: string) => number | undefined,
): ReferenceProblem | undefined {
  const check = (kind: "blob" | "manifest", refs: readonly ExpectedReference[]) => {
    for (const ref of refs) {
      const stored = storedSize(kind, ref.digest);
      if (stored !== ref.size) return { kind, digest: ref.digest, size: ref.size, stored };
    }
    return undefined;
  };
  return check("blob", references.blobs) ?? check("manifest", references.manifests);
}
