import type { Metadata } from "../meta/index.js";
import type { ImageStats } from "../metrics/images.js";
import { ownerOf } from "./owner.js";

/** Aggregate the index for the metrics: each (repository, manifest) once, however many tags. */
export async function imageStats(meta: Metadata, queued: ImageStats["queued"]): Promise<ImageStats> {
  const seen = new Set<string>();
  const counts = new Map<string, { kind: string; format: string; count: number }>();
  const bytes = new Map<string, { kind: string; virtual: number; stored: number }>();
  for (const image of await meta.diskImages.allTagged()) {
    const key = `${image.repository}@${image.digest}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const kind = ownerOf(image.repository).kind;
    const row = image.image;
    const format = row?.format ?? (row === null || row.status === "indexing" ? "indexing" : "none");
    const c = counts.get(`${kind}/${format}`) ?? { kind, format, count: 0 };
    c.count++;
    counts.set(`${kind}/${format}`, c);
    const b = bytes.get(kind) ?? { kind, virtual: 0, stored: 0 };
    b.virtual += row?.virtualSize ?? 0;
    b.stored += row?.storedSize ?? 0;
    bytes.set(kind, b);
  }
  return { images: [...counts.values()], bytes: [...bytes.values()], queued };
}
