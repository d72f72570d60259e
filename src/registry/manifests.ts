import { createHash } from "node:crypto";
import {
  RegistryError,
  digestOf,
  isExternalBlob,
  parseManifest,
  parseTag,
  type Descriptor,
  type Digest,
  type Reference,
} from "../oci/index.js";
import type { ManifestRecord, ManifestSummary, Metadata, Page } from "../meta/index.js";
import { refreshGrace } from "./grace.js";

export interface PutManifestResult {
  digest: Digest;
  subject?: string;
}

export interface TagPage {
  tags: string[];
  /** Set when more tags follow: the `last` of the next page. */
  next?: string;
}

/** Told after a manifest is committed (e.g. the disk index inspects it); never blocks the push. */
export type ManifestPutListener = (event: { repository: string; digest: string; mediaType: string; tags: string[] }) => void;

/** Manifests, tags and referrers of one repository: validation, storage and lookups. */
export class ManifestService {
  private readonly putListeners: ManifestPutListener[] = [];

  constructor(private readonly meta: Metadata) {}

  onPut(listener: ManifestPutListener): void {
    this.putListeners.push(listener);
  }

  /**
   * Validate and store a manifest. Everything it references must already be in the repository,
   * checked in the same transaction that stores it, so a manifest can never point at a blob
   * that a concurrent delete just removed.
   */
  put(repository: string, reference: Reference, body: Buffer, contentType: string | undefined, extraTags: string[] = []): PutManifestResult {
    const manifest = parseManifest(body, contentType);
    const algorithm = reference.kind === "digest" ? reference.digest.algorithm : "sha256";
    const digest = digestOf(algorithm, createHash(algorithm).update(body).digest("hex"));
    if (reference.kind === "digest" && reference.digest.value !== digest.value) {
      throw new RegistryError("DIGEST_INVALID", "manifest digest does not match its content", {
        detail: { expected: reference.digest.value, actual: digest.value },
      });
    }
    const tags = [...(reference.kind === "tag" ? [reference.tag] : []), ...extraTags.map(parseTag)];
    const blobs = manifest.blobs.filter((d) => !isExternalBlob(d));
    this.meta.transaction(() => {
      const repoId = this.meta.repositories.ensure(repository);
      for (const d of blobs) this.checkReference(d, this.meta.blobs.linkedSizeOf(repoId, d.digest), "blob");
      for (const d of manifest.manifests) this.checkReference(d, this.meta.manifests.get(repoId, repository, d.digest)?.size, "manifest");
      this.meta.manifests.put(
        repoId,
        {
          digest: digest.value,
          mediaType: manifest.mediaType,
          content: body,
          artifactType: manifest.artifactType,
          subject: manifest.subject?.digest,
          annotations: manifest.annotations,
          blobs: blobs.map((d) => d.digest),
          manifests: manifest.manifests.map((d) => d.digest),
        },
        tags,
      );
      // Pushed again (e.g. an index's child before the index): restart its grace period.
      this.meta.gc.touchManifest(repoId, digest.value);
    });
    for (const listener of this.putListeners) listener({ repository, digest: digest.value, mediaType: manifest.mediaType, tags });
    return { digest, subject: manifest.subject?.digest };
  }

  /**
   * A manifest looked up by digest may be a child an index push is about to reference without
   * pushing it again: its GC grace clock restarts (grace.ts). A tag keeps its manifest anyway.
   */
  get(repository: string, reference: Reference): ManifestRecord {
    const repoId = this.repositoryId(repository);
    const record =
      reference.kind === "tag"
        ? this.meta.manifests.getByTag(repoId, repository, reference.tag)
        : this.meta.manifests.get(repoId, repository, reference.digest.value);
    if (!record) throw manifestUnknown(reference);
    if (reference.kind === "digest") refreshGrace(record.graceSince, () => this.meta.gc.touchManifest(repoId, record.digest));
    return record;
  }

  /** DELETE by tag removes the tag only; by digest removes the manifest and its tags. */
  delete(repository: string, reference: Reference): void {
    const repoId = this.repositoryId(repository);
    const deleted =
      reference.kind === "tag"
        ? this.meta.manifests.deleteTag(repoId, reference.tag)
        : this.meta.manifests.delete(repoId, reference.digest.value);
    if (!deleted) throw manifestUnknown(reference);
  }

  tags(repository: string, page: Page): TagPage {
    const repoId = this.repositoryId(repository);
    const { items, next } = paginate(page, (p) => this.meta.manifests.listTags(repoId, p));
    return { tags: items, next };
  }

  /** Manifests whose `subject` is `digest`; the subject itself need not exist (spec). */
  referrers(repository: string, digest: Digest, artifactType?: string): ManifestSummary[] {
    const repoId = this.meta.repositories.idOf(repository);
    if (repoId === undefined) return [];
    const all = this.meta.manifests.referrers(repoId, digest.value);
    return artifactType === undefined ? all : all.filter((m) => m.artifactType === artifactType);
  }

  catalog(page: Page): { repositories: string[]; next?: string } {
    const { items, next } = paginate(page, (p) => this.meta.repositories.list(p));
    return { repositories: items, next };
  }

  private repositoryId(repository: string): number {
    const id = this.meta.repositories.idOf(repository);
    if (id === undefined) throw new RegistryError("NAME_UNKNOWN", undefined, { detail: { name: repository } });
    return id;
  }

  private checkReference(d: Descriptor, storedSize: number | undefined, kind: "blob" | "manifest"): void {
    if (storedSize === undefined) {
      throw new RegistryError("MANIFEST_BLOB_UNKNOWN", `manifest references a ${kind} unknown to this repository`, {
        detail: { digest: d.digest },
      });
    }
    if (storedSize !== d.size) {
      throw new RegistryError("MANIFEST_INVALID", `descriptor size ${d.size} does not match the stored ${kind} (${storedSize} bytes)`, {
        detail: { digest: d.digest, size: d.size, stored: storedSize },
      });
    }
  }
}

function manifestUnknown(reference: Reference): RegistryError {
  const detail = reference.kind === "tag" ? { tag: reference.tag } : { digest: reference.digest.value };
  return new RegistryError("MANIFEST_UNKNOWN", undefined, { detail });
}

/** Fetch one more than asked to learn whether a next page exists, without a COUNT query. */
function paginate(page: Page, fetch: (p: Page) => string[]): { items: string[]; next?: string } {
  if (page.limit === undefined) return { items: fetch(page) };
  if (page.limit === 0) return { items: [] };
  const fetched = fetch({ last: page.last, limit: page.limit + 1 });
  if (fetched.length <= page.limit) return { items: fetched };
  const items = fetched.slice(0, page.limit);
  return { items, next: items[items.length - 1] };
}
