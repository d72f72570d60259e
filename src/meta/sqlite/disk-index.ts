import type { Database, Statement } from "better-sqlite3";
import type { Clock } from "../../config/clock.js";
import type { DiskImageRecord, DiskImageStatus, ManifestRef, TaggedImage, TaggedImageQuery } from "../records.js";

/**
 * The disk-image index: what the inspector found in each manifest. Keyed by manifest digest
 * (content-addressed: one digest is one image whichever repositories hold it); linked to
 * repositories and tags through the manifests and tags tables when read.
 */

interface Row {
  status: DiskImageStatus;
  inspector: number;
  format: string | null;
  reason: string | null;
  virtual_size: number | null;
  stored_size: number | null;
  unpacked_size: number | null;
  disk_file: string | null;
  layer_digest: string | null;
  cdrom: number;
  compression: "gzip" | "xz" | null;
  sha256: string | null;
  md5: string | null;
  details: string | null;
  labels: string | null;
  label_mismatch: string | null;
  indexed_at: number | null;
}

interface TaggedRow extends Partial<Row> {
  repository: string;
  tag: string | null;
  digest: string;
  media_type: string;
  created_at: number;
}

const COLUMNS = `d.status, d.inspector, d.format, d.reason, d.virtual_size, d.stored_size, d.unpacked_size, d.disk_file,
  d.layer_digest, d.cdrom, d.compression, d.sha256, d.md5, d.details, d.labels, d.label_mismatch, d.indexed_at`;

const TAGGED = `
  SELECT r.name AS repository, t.name AS tag, m.digest, m.media_type, m.created_at, ${COLUMNS}
    FROM tags t
    JOIN repositories r ON r.id = t.repository_id
    JOIN manifests m ON m.id = t.manifest_id
    LEFT JOIN disk_images d ON d.manifest_digest = m.digest`;

function toRecord(row: Partial<Row>): DiskImageRecord | null {
  if (row.status == null) return null;
  return {
    status: row.status,
    inspector: row.inspector!,
    format: row.format ?? null,
    reason: row.reason ?? null,
    virtualSize: row.virtual_size ?? null,
    storedSize: row.stored_size ?? null,
    unpackedSize: row.unpacked_size ?? null,
    diskFile: row.disk_file ?? null,
    layerDigest: row.layer_digest ?? null,
    cdrom: row.cdrom === 1,
    compression: row.compression ?? null,
    sha256: row.sha256 ?? null,
    md5: row.md5 ?? null,
    details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : null,
    labels: row.labels ? (JSON.parse(row.labels) as Record<string, string>) : {},
    labelMismatch: row.label_mismatch ? (JSON.parse(row.label_mismatch) as string[]) : [],
    indexedAt: row.indexed_at ?? null,
  };
}

function toTagged(row: TaggedRow): TaggedImage {
  return { repository: row.repository, tag: row.tag, digest: row.digest, mediaType: row.media_type, createdAt: row.created_at, image: toRecord(row) };
}

/** The smallest string greater than every string starting with `prefix` (for a range scan). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

export class DiskIndexTable {
  private readonly upsert: Statement<unknown[]>;
  private readonly byDigest: Statement<[string], Row>;
  private readonly taggedOne: Statement<[string, string], TaggedRow>;
  private readonly untaggedOne: Statement<[string, string], TaggedRow>;
  private readonly content: Statement<[string], { media_type: string; content: Buffer }>;
  private readonly stale: Statement<[number, number], ManifestRef>;
  private readonly allAfter: Statement<[string, number], ManifestRef>;
  private readonly orphans: Statement<[]>;
  private readonly taggedAll: Statement<[], TaggedRow>;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {
    this.upsert = db.prepare(
      `INSERT INTO disk_images (manifest_digest, status, inspector, format, reason, virtual_size, stored_size, unpacked_size,
         disk_file, layer_digest, cdrom, compression, sha256, md5, details, labels, label_mismatch, indexed_at, updated_at)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
       -- An inspection that ends after its manifest was deleted leaves no row behind.
       WHERE EXISTS (SELECT 1 FROM manifests WHERE digest = ?)
       ON CONFLICT (manifest_digest) DO UPDATE SET
         status = excluded.status, inspector = excluded.inspector, format = excluded.format, reason = excluded.reason,
         virtual_size = excluded.virtual_size, stored_size = excluded.stored_size, unpacked_size = excluded.unpacked_size,
         disk_file = excluded.disk_file, layer_digest = excluded.layer_digest, cdrom = excluded.cdrom,
         compression = excluded.compression, sha256 = excluded.sha256,
         md5 = excluded.md5, details = excluded.details, labels = excluded.labels, label_mismatch = excluded.label_mismatch,
         indexed_at = excluded.indexed_at, updated_at = excluded.updated_at`,
    );
    this.byDigest = db.prepare(`SELECT ${COLUMNS} FROM disk_images d WHERE d.manifest_digest = ?`);
    this.taggedOne = db.prepare(`${TAGGED} WHERE r.name = ? AND t.name = ?`);
    this.untaggedOne = db.prepare(
      `SELECT r.name AS repository, (SELECT MIN(t.name) FROM tags t WHERE t.manifest_id = m.id) AS tag,
              m.digest, m.media_type, m.created_at, ${COLUMNS}
         FROM manifests m JOIN repositories r ON r.id = m.repository_id
         LEFT JOIN disk_images d ON d.manifest_digest = m.digest
        WHERE r.name = ? AND m.digest = ?`,
    );
    this.content = db.prepare("SELECT media_type, content FROM manifests WHERE digest = ? LIMIT 1");
    // One repository per digest is enough: the inspector reads blobs by digest, globally.
    this.stale = db.prepare(
      `SELECT MIN(r.name) AS repository, m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id
        LEFT JOIN disk_images d ON d.manifest_digest = m.digest
        WHERE d.manifest_digest IS NULL OR d.status = 'indexing' OR d.inspector < ?
        GROUP BY m.digest ORDER BY m.digest LIMIT ?`,
    );
    this.allAfter = db.prepare(
      `SELECT MIN(r.name) AS repository, m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id
        WHERE m.digest > ? GROUP BY m.digest ORDER BY m.digest LIMIT ?`,
    );
    this.orphans = db.prepare("DELETE FROM disk_images WHERE manifest_digest NOT IN (SELECT digest FROM manifests)");
    this.taggedAll = db.prepare(TAGGED);
  }

  get(digest: string): DiskImageRecord | null {
    const row = this.byDigest.get(digest);
    return row ? toRecord(row) : null;
  }

  save(digest: string, record: DiskImageRecord): void {
    this.upsert.run(
      digest,
      record.status,
      record.inspector,
      record.format,
      record.reason,
      record.virtualSize,
      record.storedSize,
      record.unpackedSize,
      record.diskFile,
      record.layerDigest,
      record.cdrom ? 1 : 0,
      record.compression,
      record.sha256,
      record.md5,
      record.details ? JSON.stringify(record.details) : null,
      JSON.stringify(record.labels),
      JSON.stringify(record.labelMismatch),
      record.indexedAt,
      this.clock.now(),
      digest,
    );
  }

  /** Tagged images in (repository, tag) order, after a cursor, optionally narrowed. */
  listTagged(query: TaggedImageQuery): TaggedImage[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.repositoryPrefix) {
      where.push("r.name >= ? AND r.name < ?");
      params.push(query.repositoryPrefix, prefixEnd(query.repositoryPrefix));
    }
    if (query.format !== undefined) {
      where.push("d.format = ?");
      params.push(query.format);
    }
    if (query.after) {
      where.push("(r.name, t.name) > (?, ?)");
      params.push(query.after.repository, query.after.tag);
    }
    const sql = `${TAGGED} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY r.name, t.name LIMIT ?`;
    // Filters vary per request; better-sqlite3 caches nothing, but preparing this is microseconds.
    const rows = this.db.prepare<unknown[], TaggedRow>(sql).all(...params, query.limit);
    return rows.map(toTagged);
  }

  /** Every tagged image (metrics aggregate these at scrape time). */
  allTagged(): TaggedImage[] {
    return this.taggedAll.all().map(toTagged);
  }

  byTag(repository: string, tag: string): TaggedImage | undefined {
    const row = this.taggedOne.get(repository, tag);
    return row && toTagged(row);
  }

  /** A manifest of a repository by digest: with its first tag, or tag null when it has none. */
  byManifest(repository: string, digest: string): TaggedImage | undefined {
    const row = this.untaggedOne.get(repository, digest);
    return row && toTagged(row);
  }

  /** The manifest's bytes from any repository holding it (equal digests, equal bytes). */
  manifestContent(digest: string): { mediaType: string; content: Buffer } | undefined {
    const row = this.content.get(digest);
    return row && { mediaType: row.media_type, content: row.content };
  }

  /** Manifests without a final row of the current inspector version: what start-up resumes. */
  pending(inspector: number, limit: number): ManifestRef[] {
    return this.stale.all(inspector, limit);
  }

  /** Every manifest digest, in pages (reindex). */
  manifestsAfter(digest: string, limit: number): ManifestRef[] {
    return this.allAfter.all(digest, limit);
  }

  /** Rows of manifests that no repository holds any more (deleted, collected). */
  removeOrphans(): number {
    return this.orphans.run().changes;
  }
}
