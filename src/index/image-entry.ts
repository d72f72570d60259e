import type { DiskImageRecord, TaggedImage } from "../meta/index.js";
import { emptyRecord } from "./record.js";
import { ownerOf, type OwnerKind } from "./owner.js";

/** What the API shows of an index row (field meanings: DiskImageRecord). */
type IndexedFields = Omit<DiskImageRecord, "inspector" | "layerDigest" | "indexedAt">;

/** One image as the API and `dvcr inspect` show it. */
export interface ImageEntry extends IndexedFields {
  repository: string;
  /** Asked for by digest: its first tag, or null when it has none. */
  tag: string | null;
  digest: string;
  kind: OwnerKind;
  name: string;
  namespace: string | null;
  createdAt: string;
  indexedAt: string | null;
}

export function toImageEntry(image: TaggedImage): ImageEntry {
  const { repository, tag, digest } = image;
  const { kind, name, namespace } = ownerOf(repository);
  // No row: a manifest the inspector has not reached yet (queued, or left by an older run).
  const row = image.image ?? { ...emptyRecord(), status: "indexing", indexedAt: null };
  const { inspector: _inspector, layerDigest: _layer, indexedAt, ...fields } = row;
  return {
    repository,
    tag,
    digest,
    kind,
    name,
    namespace,
    ...fields,
    createdAt: new Date(image.createdAt).toISOString(),
    indexedAt: indexedAt === null ? null : new Date(indexedAt).toISOString(),
  };
}
