import { binaryScale } from "../config/units.js";
import type { ImageEntry } from "../index/index.js";

const UNITS = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 10737418240 → "10.0 GiB (10737418240 bytes)": readable, and exact for scripts that grep. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return "-";
  const { value, power } = binaryScale(bytes, UNITS.length - 1);
  return power === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${UNITS[power]} (${bytes} bytes)`;
}

function pairs(values: Record<string, unknown> | null): string {
  const entries = Object.entries(values ?? {});
  return entries.length === 0 ? "-" : entries.map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : String(v)}`).join(" ");
}

/** One image as `dvcr inspect` prints it: aligned "field  value" lines. */
export function imageTable(image: ImageEntry): string {
  const owner = image.namespace === null ? image.name : `${image.namespace}/${image.name}`;
  const rows: [string, string][] = [
    ["Repository", image.repository],
    ["Tag", image.tag ?? "-"],
    ["Digest", image.digest],
    ["Owner", `${image.kind} ${owner}`],
    ["Status", image.status],
    ["Format", image.format === null ? "-" : image.compression ? `${image.format} (kept ${image.compression}-compressed in the layer)` : image.format],
    ...(image.reason === null ? [] : ([["Reason", image.reason]] as [string, string][])),
    ["Virtual size", formatBytes(image.virtualSize)],
    ["Stored size", formatBytes(image.storedSize)],
    ["Unpacked size", formatBytes(image.unpackedSize)],
    ["CD-ROM", image.cdrom ? "yes" : "no"],
    ["Disk file", image.diskFile ?? "-"],
    ["SHA-256", image.sha256 ?? "-"],
    ["MD5", image.md5 ?? "-"],
    ["Created", image.createdAt],
    ["Indexed", image.indexedAt ?? "-"],
    ["Labels", pairs(image.labels)],
    ["Label mismatch", image.labelMismatch.length === 0 ? "none" : image.labelMismatch.join(", ")],
    ["Details", pairs(image.details)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join("");
}
