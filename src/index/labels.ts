import type { DiskHeader } from "../disk/index.js";

/**
 * What the importer recorded in the image config (`config.Labels`) about the disk it packed,
 * compared with what the inspector found. A mismatch means the image was repacked or relabelled
 * by hand: the platform should trust the index, and a human should look.
 */
export const SOURCE_LABELS = {
  size: "source-image-size",
  virtualSize: "source-image-virtual-size",
  format: "source-image-format",
} as const;

/** Labels are free-form; keep what we store bounded whatever the config holds. */
const MAX_LABELS = 64;
const MAX_LABEL_LENGTH = 1024;

/** The config's labels (Docker and OCI configs both keep them in `config.Labels`). */
export function configLabels(config: unknown): Record<string, string> {
  const labels = (config as { config?: { Labels?: unknown } } | null)?.config?.Labels;
  if (typeof labels !== "object" || labels === null || Array.isArray(labels)) return {};
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels).slice(0, MAX_LABELS)) {
    if (typeof value === "string" && key.length <= MAX_LABEL_LENGTH) out[key] = value.slice(0, MAX_LABEL_LENGTH);
  }
  return out;
}

export interface FoundDisk {
  format: DiskHeader["format"];
  /** null: not known yet (a compressed raw disk before the checksum pass); agrees with any label. */
  virtualSize: number | null;
  unpackedSize: number | null;
  /** A disk file kept compressed in the layer: its stored size is a size the importer may have recorded too. */
  storedFileSize?: number;
}

/** Names of the source-image-* labels that disagree with the disk found (absent labels agree). */
export function labelMismatch(labels: Record<string, string>, found: FoundDisk): string[] {
  const sizes = [found.unpackedSize, found.storedFileSize].filter((n) => n !== undefined);
  const expected: Record<string, string[] | null> = {
    [SOURCE_LABELS.size]: sizes.includes(null) ? null : sizes.map(String),
    [SOURCE_LABELS.virtualSize]: found.virtualSize === null ? null : [String(found.virtualSize)],
    [SOURCE_LABELS.format]: [found.format],
  };
  return Object.entries(expected)
    .filter(([label, values]) => values !== null && labels[label] !== undefined && !values.includes(labels[label]!.trim().toLowerCase()))
    .map(([label]) => label);
}
