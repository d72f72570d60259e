import { createHash } from "node:crypto";
import {
  RegistryError,
  digestOf,
  isExternalBlob,
  parseManifest,
  parseTag,
  type Digest,
  type ParsedManifest,
  type Reference,
} from "../oci/index.js";
import type { Clock } from "../config/clock.js";
import type { ManifestRecord, ManifestSummary, Metadata, Page, ReferenceProblem } from "../meta/index.js";
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

/** A manifest just committed, parsed (listeners need not read it back). */
export interface ManifestPutEvent {
  repository: string;
  digest: string;
  mediaType: string;
  tags: string[];
  manifest: ParsedManifest;
}

/** Told after a manifest is committed (e.g. the disk index inspects it); never blocks the push. */
export type ManifestPutListener = (event: ManifestPutEvent) => void;

/** Manifests, tags and referrers of one repository: validation, storage and lookups. */
export class ManifestService {
  private readonly putListeners: ManifestPutListener[] = [];
  private readonly deleteListeners: ((repository: string) => void)[] = [];

  constructor(
    private readonly meta: Metadata,
    private readonly clock: Clock,
  ) {}

  onPut(listener: ManifestPutListener): void {
    this.putListeners.push(listener);
  }

  /** Told after a manifest or tag of `repository` was deleted (owners check what they lost). */
  onDelete(listener: (repository: string) => void): void {
    this.deleteListeners.push(listener);
  }

  /**
   * Validate and store a manifest. Everything it references must already be in the repository,
   * checked in the same transaction that stores it, so a manifest can never point at a blob
   * that a concurrent delete just removed.
   */
  async put(
    repository: string,
    reference: Reference,
    body: Buffer,
    contentType: string | undefined,
    extraTags: string[] = [],
  ): Promise<PutManifestResult> {
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
    const problem = await this.meta.manifests.put(
      repository,
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
      { blobs, manifests: manifest.manifests },
    );
    if (problem) throw referenceError(problem);
    const event: ManifestPutEvent = { repository, digest: digest.value, mediaType: manifest.mediaType, tags, manifest };
    for (const listener of this.putListeners) listener(event);
    return { digest, subject: manifest.subject?.digest };
  }

  /**
   * A manifest looked up by digest may be a child an index push is about to reference without
   * pushing it again: its GC grace clock restarts (grace.ts). A tag keeps its manifest anyway.
   */
  async get(repository: string, reference: Reference): Promise<ManifestRecord> {
    const record =
      reference.kind === "tag"
        ? await this.meta.manifests.getByTag(repository, reference.tag)
        : await this.meta.manifests.get(repository, reference.digest.value);
    if (!record) throw await this.unknown(repository, reference);
    if (reference.kind === "digest") await refreshGrace(this.clock, record.graceSince, () => this.meta.manifests.touch(repository, record.digest));
    return record;
  }

  /** DELETE by tag removes the tag only; by digest removes the manifest and its tags. */
  async delete(repository: string, reference: Reference): Promise<void> {
    const deleted =
      reference.kind === "tag"
        ? await this.meta.manifests.deleteTag(repository, reference.tag)
        : await this.meta.manifests.delete(repository, reference.digest.value);
    if (!deleted) throw await this.unknown(repository, reference);
    for (const listener of this.deleteListeners) listener(repository);
  }

  async tags(repository: string, page: Page): Promise<TagPage> {
    const { items, next } = await paginate(page, (p) => this.meta.manifests.listTags(repository, p));
    // An empty list may be an unknown repository: asked only then, off the hot path.
    if (items.length === 0 && !(await this.meta.repositories.exists(repository))) throw nameUnknown(repository);
    return { tags: items, next };
  }

  /** Manifests whose `subject` is `digest`; the subject itself need not exist (spec). */
  async referrers(repository: string, digest: Digest, artifactType?: string): Promise<ManifestSummary[]> {
    const all = await this.meta.manifests.referrers(repository, digest.value);
    return artifactType === undefined ? all : all.filter((m) => m.artifactType === artifactType);
  }

  async catalog(page: Page): Promise<{ repositories: string[]; next?: string }> {
    const { items, next } = await paginate(page, (p) => this.meta.repositories.list(p));
    return { repositories: items, next };
  }

  /** A lookup missed: the repository, or only the manifest, is unknown. */
  private async unknown(repository: string, reference: Reference): Promise<RegistryError> {
    return (await this.meta.repositories.exists(repository)) ? manifestUnknown(reference) : nameUnknown(repository);
  }
}

function nameUnknown(repository: string): RegistryError {
  return new RegistryError("NAME_UNKNOWN", undefined, { detail: { name: repository } });
}

/** The spec's error for a manifest referencing what the repository does not hold (or at another size). */
function referenceError(problem: ReferenceProblem): RegistryError {
  if (problem.stored === undefined) {
    return new RegistryError("MANIFEST_BLOB_UNKNOWN", `manifest references a ${problem.kind} unknown to this repository`, {
      detail: { digest: problem.digest },
    });
  }
  return new RegistryError("MANIFEST_INVALID", `descriptor size ${problem.size} does not match the stored ${problem.kind} (${problem.stored} bytes)`, {
    detail: { digest: problem.digest, size: problem.size, stored: problem.stored },
  });
}

function manifestUnknown(reference: Reference): RegistryError {
  const detail = reference.kind === "tag" ? { tag: reference.tag } : { digest: reference.digest.value };
  return new RegistryError("MANIFEST_UNKNOWN", undefined, { detail });
}

/** Fetch one more than asked to learn whether a next page exists, without a COUNT query. */
async function paginate(page: Page, fetch: (p: Page) => Promise<string[]>): Promise<{ items: string[]; next?: string }> {
  if (page.limit === undefined) return { items: await fetch(page) };
  if (page.limit === 0) return { items: [] };
  const fetched = await fetch({ last: page.last, limit: page.limit + 1 });
  if (fetched.length <= page.limit) return { items: fetched };
  const items = fetched.slice(0, page.limit);
  return { items, next: items[items.length - 1] };
}
