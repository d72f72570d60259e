import type { Database } from "better-sqlite3";

/**
 * Schema migrations, applied in order inside one transaction each; PRAGMA user_version records
 * how many have run. Append only: never edit a migration that has shipped.
 */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE blobs (
    digest      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
  );
  CREATE TABLE repositories (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
  );
  -- A repository may serve a blob only through a link (upload, mount or manifest push).
  CREATE TABLE repository_blobs (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest        TEXT NOT NULL REFERENCES blobs(digest),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, digest)
  ) WITHOUT ROWID;
  CREATE INDEX repository_blobs_digest ON repository_blobs(digest);
  CREATE TABLE manifests (
    id             INTEGER PRIMARY KEY,
    repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest         TEXT NOT NULL,
    media_type     TEXT NOT NULL,
    size           INTEGER NOT NULL,
    content        BLOB NOT NULL,
    artifact_type  TEXT,
    subject        TEXT,
    annotations    TEXT,
    created_at     INTEGER NOT NULL,
    UNIQUE (repository_id, digest)
  );
  CREATE INDEX manifests_subject ON manifests(repository_id, subject) WHERE subject IS NOT NULL;
  -- What a manifest points at: blobs (config, layers) and child manifests (index entries).
  CREATE TABLE manifest_references (
    manifest_id  INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    digest       TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
    PRIMARY KEY (manifest_id, digest, kind)
  ) WITHOUT ROWID;
  CREATE INDEX manifest_references_digest ON manifest_references(digest);
  CREATE TABLE tags (
    repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    manifest_id    INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (repository_id, name)
  ) WITHOUT ROWID;
  CREATE INDEX tags_manifest ON tags(manifest_id);
  -- Upload sessions; size is the committed (fsync'd) length of the session's temp file.
  CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    repository  TEXT NOT NULL,
    size        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
  );
  `,
  // Garbage collection: each manifest and blob carries the start of its grace period
  // (idle_since; NULL means created_at). Triggers keep it true whichever code path deletes a
  // tag or a reference: a manifest's clock restarts when it loses a tag, a blob's when it loses
  // a reference; re-pushes and mounts restart it from the registry code.
  `
  ALTER TABLE manifests ADD COLUMN idle_since INTEGER;
  ALTER TABLE blobs ADD COLUMN idle_since INTEGER;
  CREATE TRIGGER tags_deleted_restart_grace AFTER DELETE ON tags BEGIN
    UPDATE manifests SET idle_since = CAST(unixepoch('subsec') * 1000 AS INTEGER) WHERE id = OLD.manifest_id;
  END;
  CREATE TRIGGER tags_moved_restart_grace AFTER UPDATE OF manifest_id ON tags WHEN OLD.manifest_id <> NEW.manifest_id BEGIN
    UPDATE manifests SET idle_since = CAST(unixepoch('subsec') * 1000 AS INTEGER) WHERE id = OLD.manifest_id;
  END;
  CREATE TRIGGER blob_reference_deleted_restart_grace AFTER DELETE ON manifest_references WHEN OLD.kind = 'blob' BEGIN
    UPDATE blobs SET idle_since = CAST(unixepoch('subsec') * 1000 AS INTEGER) WHERE digest = OLD.digest;
  END;
  CREATE INDEX uploads_updated_at ON uploads(updated_at);
  `,
  // The disk-image index (meta/disk-index.ts): one row per inspected manifest digest. No foreign
  // key: a digest may live in several repositories; rows whose manifest is gone are pruned.
  `
  CREATE TABLE disk_images (
    manifest_digest  TEXT PRIMARY KEY,
    status           TEXT NOT NULL CHECK (status IN ('indexing', 'ready')),
    inspector        INTEGER NOT NULL,
    format           TEXT,
    reason           TEXT,
    virtual_size     INTEGER,
    stored_size      INTEGER,
    unpacked_size    INTEGER,
    disk_file        TEXT,
    layer_digest     TEXT,
    cdrom            INTEGER NOT NULL DEFAULT 0,
    sha256           TEXT,
    md5              TEXT,
    details          TEXT,
    labels           TEXT,
    label_mismatch   TEXT,
    indexed_at       INTEGER,
    updated_at       INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX disk_images_format ON disk_images(format);
  `,
  // Index rows go with the last manifest of their digest (a delete, a repository delete, GC)
  // instead of waiting for the next start-up's sweep. Lookups of a manifest by digest alone
  // (the indexer, this trigger) get an index.
  `
  CREATE INDEX manifests_digest ON manifests(digest);
  CREATE TRIGGER manifest_deleted_drop_disk_image AFTER DELETE ON manifests
  WHEN NOT EXISTS (SELECT 1 FROM manifests WHERE digest = OLD.digest) BEGIN
    DELETE FROM disk_images WHERE manifest_digest = OLD.digest;
  END;
  `,
  // The grace-clock triggers read the registry's clock (dvcr_now(), registered on every
  // connection by database.ts) instead of SQLite's, so an injected clock ages every row alike.
  `
  DROP TRIGGER tags_deleted_restart_grace;
  DROP TRIGGER tags_moved_restart_grace;
  DROP TRIGGER blob_reference_deleted_restart_grace;
  CREATE TRIGGER tags_deleted_restart_grace AFTER DELETE ON tags BEGIN
    UPDATE manifests SET idle_since = dvcr_now() WHERE id = OLD.manifest_id;
  END;
  CREATE TRIGGER tags_moved_restart_grace AFTER UPDATE OF manifest_id ON tags WHEN OLD.manifest_id <> NEW.manifest_id BEGIN
    UPDATE manifests SET idle_since = dvcr_now() WHERE id = OLD.manifest_id;
  END;
  CREATE TRIGGER blob_reference_deleted_restart_grace AFTER DELETE ON manifest_references WHEN OLD.kind = 'blob' BEGIN
    UPDATE blobs SET idle_since = dvcr_now() WHERE digest = OLD.digest;
  END;
  `,
  // A disk file kept gzip- or xz-compressed in its layer (DVCR's own importer's pushes): the index
  // describes the disk inside it and says so. Rows of inspector 1 are redone at start-up anyway.
  `
  ALTER TABLE disk_images ADD COLUMN compression TEXT CHECK (compression IN ('gzip', 'xz'));
  `,
  // The Kubernetes-style API's objects (ClusterVirtualImages) beside the registry's rows, and
  // the change log watches resume from (compacted to the newest kube.watchHistory changes).
  // counter: the last resourceVersion given out; compacted: changes up to here are gone.
  `
  CREATE TABLE kube_objects (
    resource          TEXT NOT NULL,
    name              TEXT NOT NULL,
    resource_version  INTEGER NOT NULL,
    object            TEXT NOT NULL,
    PRIMARY KEY (resource, name)
  ) WITHOUT ROWID;
  CREATE TABLE kube_changes (
    resource_version  INTEGER PRIMARY KEY,
    resource          TEXT NOT NULL,
    type              TEXT NOT NULL CHECK (type IN ('ADDED', 'MODIFIED', 'DELETED')),
    object            TEXT NOT NULL
  );
  CREATE TABLE kube_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO kube_state VALUES ('counter', 0), ('compacted', 0);
  `,
];

export function migrate(db: Database): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this dvcr (${MIGRATIONS.length}); refusing to run`);
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
