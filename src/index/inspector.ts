import {
  InspectionError,
  isInspectionError,
  probeLayer,
  checksumLayer,
  type DiskLimits,
  type DiskProbe,
  type LayerSource,
} from "../disk/index.js";
import type { DiskImageRecord } from "../meta/index.js";
import { MediaType, isExternalBlob, isIndexMediaType, type Descriptor, type ParsedManifest } from "../oci/index.js";
import { configLabels, labelMismatch } from "./labels.js";
import { emptyRecord, notADisk, type BlobReader } from "./record.js";

/** Image configs are a few KiB; one larger than this is not read for labels. */
const MAX_CONFIG_BYTES = 1024 * 1024;
const IMAGE_CONFIG_TYPES = new Set<string>([MediaType.OciConfig, MediaType.DockerConfig]);

/** The header pass's result: the row to store, and the layer to checksum when a disk was found. */
export interface ProbeOutcome {
  record: DiskImageRecord;
  checksum?: { layer: Descriptor; probe: DiskProbe };
}

async function readSmallBlob(blobs: BlobReader, d: Descriptor): Promise<Buffer | null> {
  if (d.size > MAX_CONFIG_BYTES || (await blobs.size(d.digest)) === undefined) return null;
  if (d.size === 0) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  for await (const chunk of await blobs.open(d.digest, 0, d.size - 1)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

async function layerSource(blobs: BlobReader, layer: Descriptor): Promise<LayerSource> {
  const size = await blobs.size(layer.digest);
  if (size === undefined) throw new InspectionError(`layer ${layer.digest} is missing from storage`);
  return { size, read: (start, end) => blobs.open(layer.digest, start, end) };
}

/**
 * The header pass over one manifest: its config's labels, then its layers from the top down
 * (the topmost layer holding disk/<file> is what a puller sees) until one holds a disk file.
 */
export async function probeManifest(parsed: ParsedManifest, blobs: BlobReader, limits: DiskLimits, signal: AbortSignal): Promise<ProbeOutcome> {
  const base = emptyRecord();
  if (isIndexMediaType(parsed.mediaType)) return { record: notADisk(base, "image index: each of its manifests is indexed on its own") };
  const [config, ...layers] = parsed.blobs;
  base.storedSize = layers.reduce((sum, l) => sum + l.size, 0);
  if (!config || !IMAGE_CONFIG_TYPES.has(config.mediaType)) {
    return { record: notADisk(base, `artifact (${parsed.artifactType ?? "no config"}), not a container image`) };
  }
  try {
    const configBytes = await readSmallBlob(blobs, config);
    base.labels = configBytes ? configLabels(JSON.parse(configBytes.toString("utf8"))) : {};
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    return { record: notADisk(base, "image config is not valid JSON") };
  }
  try {
    for (const layer of [...layers].reverse()) {
      if (isExternalBlob(layer)) continue;
      const probe = await probeLayer(await layerSource(blobs, layer), limits, signal);
      if (!probe) continue;
      // A compressed disk file's own size is known only once the checksum pass has decompressed it.
      const unpackedSize = probe.compression === null ? probe.size : null;
      const storedFileSize = probe.compression === null ? undefined : probe.size;
      const record: DiskImageRecord = {
        ...base,
        status: "indexing",
        format: probe.format,
        virtualSize: probe.virtualSize,
        unpackedSize,
        diskFile: probe.path,
        layerDigest: layer.digest,
        cdrom: probe.cdrom,
        compression: probe.compression,
        details: storedFileSize === undefined ? probe.details : { ...probe.details, storedFileSize },
        labelMismatch: labelMismatch(base.labels, { format: probe.format, virtualSize: probe.virtualSize, unpackedSize, storedFileSize }),
        indexedAt: null,
      };
      return { record, checksum: { layer, probe } };
    }
  } catch (err) {
    if (isInspectionError(err)) return { record: notADisk(base, err.reason) };
    throw err;
  }
  return { record: notADisk(base, layers.length === 0 ? "image has no layers" : "no layer holds a disk/<file>") };
}

/** The checksum pass: the probed row, completed with the disk file's sha256 and md5, or failed. */
export async function checksumManifest(
  probed: DiskImageRecord,
  layer: Descriptor,
  blobs: BlobReader,
  limits: DiskLimits,
  signal: AbortSignal,
): Promise<DiskImageRecord> {
  try {
    const sums = await checksumLayer(await layerSource(blobs, layer), limits, signal);
    const done: DiskImageRecord = { ...probed, status: "ready", sha256: sums.sha256, md5: sums.md5, indexedAt: Date.now() };
    if (!sums.unpacked) return done;
    // A compressed disk file: its header judged again against the decompressed size, which fills
    // in the sizes the header pass could not know (a raw disk's virtual size, the unpacked size).
    const { header, size } = sums.unpacked;
    return {
      ...done,
      format: header.format,
      virtualSize: header.virtualSize,
      unpackedSize: size,
      cdrom: header.cdrom,
      details: { ...header.details, storedFileSize: sums.size },
      labelMismatch: labelMismatch(probed.labels, { format: header.format, virtualSize: header.virtualSize, unpackedSize: size, storedFileSize: sums.size }),
    };
  } catch (err) {
    if (!isInspectionError(err)) throw err;
    // Over budget: the disk is what the header pass found, only its checksums are unknown.
    if (err.overBudget && probed.format !== null) {
      return { ...probed, status: "ready", reason: `checksums not computed: ${err.reason}`, sha256: null, md5: null, indexedAt: Date.now() };
    }
    return notADisk(probed, err.reason);
  }
}
