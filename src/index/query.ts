import type { Metadata, TaggedImage } from "../meta/index.js";
import { RegistryError } from "../oci/index.js";
import { toImageEntry, type ImageEntry } from "./image-entry.js";
import { ownerMatches, ownerOf, ownerPrefix, type OwnerFilter } from "./owner.js";

export interface ImageFilter extends OwnerFilter {
  format?: string;
}

/** Where a listing resumes: the last (repository, tag) of the previous page. */
export interface ImageCursor {
  repository: string;
  tag: string;
}

export interface ImagePage {
  images: ImageEntry[];
  /** Set when more follow: the cursor of the next page. */
  next?: ImageCursor;
}

/** Rows fetched per round while filtering by owner in code. */
const BATCH = 500;

/**
 * Tagged images in (repository, tag) order. The owner filter narrows the SQL range by prefix
 * and is decided exactly here; `canRead` drops repositories the caller may not pull from, as
 * the catalog would. Fetches one more than asked to know whether a next page exists.
 */
export async function listImages(
  meta: Metadata,
  filter: ImageFilter,
  page: { limit: number; after?: ImageCursor },
  canRead: (repository: string) => boolean,
): Promise<ImagePage> {
  if (page.limit === 0) return { images: [] };
  const wanted = page.limit + 1;
  const found: TaggedImage[] = [];
  let after = page.after;
  while (found.length < wanted) {
    const batch = await meta.diskImages.listTagged({ repositoryPrefix: ownerPrefix(filter), format: filter.format, after, limit: Math.max(BATCH, wanted) });
    for (const image of batch) {
      if (found.length < wanted && ownerMatches(ownerOf(image.repository), filter) && canRead(image.repository)) found.push(image);
    }
    if (batch.length === 0) break;
    const last = batch[batch.length - 1]!;
    after = { repository: last.repository, tag: last.tag! };
    if (batch.length < Math.max(BATCH, wanted)) break;
  }
  const images = found.slice(0, page.limit).map(toImageEntry);
  if (found.length <= page.limit) return { images };
  const last = images[images.length - 1]!;
  return { images, next: { repository: last.repository, tag: last.tag! } };
}

/** One image: by tag, or by digest. NAME_UNKNOWN / MANIFEST_UNKNOWN when absent (spec codes). */
export async function getImage(meta: Metadata, repository: string, reference: { tag: string } | { digest: string }): Promise<ImageEntry> {
  if (!(await meta.repositories.exists(repository))) throw new RegistryError("NAME_UNKNOWN", undefined, { detail: { name: repository } });
  const image = "tag" in reference ? await meta.diskImages.byTag(repository, reference.tag) : await meta.diskImages.byManifest(repository, reference.digest);
  if (!image) throw new RegistryError("MANIFEST_UNKNOWN", undefined, { detail: reference });
  return toImageEntry(image);
}
