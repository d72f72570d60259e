import path from "node:path";
import { Readable } from "node:stream";
import { DEFAULT_DISK_LIMITS, decodingStages, isInspectionError, layerEncoding, probeLayer, walkTar, type DiskLimits, type LayerSource, type PlainDiskProbe } from "../disk/index.js";
import { MANIFEST_MEDIA_TYPES, isIndexMediaType, type Descriptor } from "../oci/index.js";
import { copyBlob } from "./blob-upload.js";
import { endpoint, parseImageReference } from "./endpoints.js";
import { packAndPush, pushDiskImage, type ImportContext } from "./engine.js";
import { ImportError } from "./errors.js";
import { diskLabels } from "./image.js";
import { ProgressMeter } from "./progress.js";
import type { RegistryClient } from "./registry-client.js";
import type { ImportResult, ImportSource } from "./types.js";

interface ImageManifest {
  mediaType: string;
  bytes: Buffer;
  config: Descriptor;
  layers: Descriptor[];
}

/** An import unpacks what it is given: a disk that gzips 1000:1 (an empty raw disk) is no bomb here. */
const IMPORT_LIMITS: DiskLimits = { ...DEFAULT_DISK_LIMITS, maxGzipRatio: Number.POSITIVE_INFINITY, probeTimeoutMs: 10 * 60_000 };

/** The image manifest of `reference`; for an index, the linux/amd64 entry (else the first). */
async function imageManifest(client: RegistryClient, repository: string, reference: string): Promise<ImageManifest> {
  let { bytes, mediaType } = await client.getManifest(repository, reference, MANIFEST_MEDIA_TYPES);
  let document = JSON.parse(bytes.toString("utf8")) as { mediaType?: string; manifests?: (Descriptor & { platform?: { os?: string; architecture?: string } })[] };
  if (isIndexMediaType(mediaType || document.mediaType || "")) {
    const entries = document.manifests ?? [];
    const chosen = entries.find((m) => m.platform?.os === "linux" && m.platform?.architecture === "amd64") ?? entries[0];
    if (!chosen) throw new ImportError("invalid", `${repository}:${reference} is an empty index`);
    ({ bytes, mediaType } = await client.getManifest(repository, chosen.digest, MANIFEST_MEDIA_TYPES));
    document = JSON.parse(bytes.toString("utf8"));
  }
  const image = document as unknown as { mediaType?: string; config?: Descriptor; layers?: Descriptor[] };
  if (!image.config || !Array.isArray(image.layers) || image.layers.length === 0) throw new ImportError("invalid", `${repository}:${reference} is not an image with layers`);
  return { mediaType: mediaType || image.mediaType || "", bytes, config: image.config, layers: image.layers };
}

function blobSource(client: RegistryClient, repository: string, layer: Descriptor): LayerSource {
  return { size: layer.size, read: (start, end) => client.getBlob(repository, layer.digest, [start, end]) };
}

interface DiskLayer {
  layer: Descriptor;
  /** What the header pass found; null when the disk file is itself compressed (DVCR's own pushes). */
  probe: PlainDiskProbe | null;
}

/** The layer holding `disk/<file>`, topmost first (a later layer overrides an earlier one). */
async function findDiskLayer(client: RegistryClient, repository: string, manifest: ImageManifest, signal?: AbortSignal): Promise<DiskLayer> {
  for (const layer of [...manifest.layers].reverse()) {
    try {
      const probe = await probeLayer(blobSource(client, repository, layer), IMPORT_LIMITS, signal ?? new AbortController().signal);
      // A compressed disk file inside the layer: the importer unpacks it on the way.
      if (probe) return { layer, probe: probe.compression === null ? probe : null };
    } catch (err) {
      if (isInspectionError(err)) throw new ImportError("corrupt", `layer ${layer.digest}: ${err.reason}`);
      throw err;
    }
  }
  throw new ImportError("invalid", `the image holds no disk/<file> in any layer`);
}

const BLOCK = 512;
const roundUp = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

/**
 * Already the shape the importer would push: an uncompressed tar holding `disk/<file>` (and at
 * most its directory entry) and nothing else — its size leaves room for no other entry.
 */
async function hasImporterShape(client: RegistryClient, repository: string, found: DiskLayer): Promise<boolean> {
  if (!found.probe) return false;
  if ((await layerEncoding(blobSource(client, repository, found.layer))) !== "tar") return false;
  const body = roundUp(found.probe.size) + 2 * BLOCK;
  return found.layer.size === BLOCK + body || found.layer.size === 2 * BLOCK + body;
}

function resultOf(probe: PlainDiskProbe, pushed: Pick<ImportResult, "manifestDigest" | "storedBytes" | "durationMs">, bytes: number, started: number): ImportResult {
  const seconds = (Date.now() - started) / 1000;
  return {
    ...pushed,
    sourceImageSize: probe.size,
    sourceImageVirtualSize: probe.virtualSize,
    sourceImageFormat: probe.format,
    unpackedBytes: probe.size,
    cdrom: probe.cdrom,
    averageSpeed: seconds > 0 ? Math.round(bytes / seconds) : 0,
    sourceCompression: "none",
    sizeFrom: "source",
  };
}

/** `docker://host/repo:tag|@digest` into the destination. */
export async function importFromRegistry(context: ImportContext, source: Extract<ImportSource, { type: "registry" }>): Promise<ImportResult> {
  const ref = parseImageReference(source.image);
  const signal = context.request.signal;
  const remote = await endpoint(ref.host, ref.scheme, { ...source, signal });
  try {
    const manifest = await imageManifest(remote.client, ref.repository, ref.reference);
    const found = await findDiskLayer(remote.client, ref.repository, manifest, signal);
    if (await hasImporterShape(remote.client, ref.repository, found)) return await copyLayerAsIs(context, remote.client, ref.repository, found);
    return await repackLayer(context, remote.client, ref.repository, found);
  } finally {
    await remote.close();
  }
}

/** The source layer is what we would push: copy its bytes unchanged (same digest), new config. */
async function copyLayerAsIs(context: ImportContext, remote: RegistryClient, repository: string, found: DiskLayer): Promise<ImportResult> {
  const { request } = context;
  const destination = context.destination.client;
  const target = request.destination.repository;
  const probe = found.probe!;
  const { digest, size } = found.layer;
  const meter = new ProgressMeter(size, request.onProgress);
  if (!(await destination.blobExists(target, digest))) {
    await copyBlob(destination, target, { digest, size, read: (start, end) => remote.getBlob(repository, digest, [start, end]) }, {
      segmentBytes: context.tuning.copySegmentBytes,
      policy: context.policy,
      signal: request.signal,
      onBytes: (n) => meter.count(n),
    });
  }
  meter.finish();
  const pushed = await pushDiskImage(context, { digest, size }, diskLabels(probe.size, probe));
  return resultOf(probe, pushed, meter.bytes, context.started);
}

/** Stream the layer, take `disk/<file>` out of it and import that like any other source. */
async function repackLayer(context: ImportContext, remote: RegistryClient, repository: string, found: DiskLayer): Promise<ImportResult> {
  const source = blobSource(remote, repository, found.layer);
  const encoding = await layerEncoding(source);
  const blob = await remote.getBlob(repository, found.layer.digest);
  let result: ImportResult | undefined;
  try {
    await walkTar(blob, decodingStages(encoding, IMPORT_LIMITS), {
      limits: IMPORT_LIMITS,
      signal: context.request.signal ?? new AbortController().signal,
      onDiskFile: async (entry) => {
        const content = Readable.from(entry.content, { objectMode: false });
        result = await packAndPush(context, { fileName: path.basename(entry.path), size: entry.size, stream: () => content, close: async () => undefined });
        return "stop";
      },
    });
  } catch (err) {
    if (isInspectionError(err)) throw new ImportError("corrupt", `layer ${found.layer.digest}: ${err.reason}`);
    throw err;
  }
  if (!result) throw new ImportError("invalid", "the image holds no disk/<file>");
  return result;
}

/** Another repository of the destination registry: every blob mounted, the manifest put under the new tag. */
export async function mountFromRepository(context: ImportContext, from: string, reference: string): Promise<ImportResult> {
  const client = context.destination.client;
  const target = context.request.destination;
  const manifest = await imageManifest(client, from, reference);
  let copied = 0;
  for (const blob of [manifest.config, ...manifest.layers]) {
    if (await client.mountBlob(target.repository, blob.digest, from)) continue;
    // A registry that cannot mount: copy the blob (the registry verifies its digest on commit).
    const read = (start: number, end: number) => client.getBlob(from, blob.digest, [start, end]);
    await copyBlob(client, target.repository, { digest: blob.digest, size: blob.size, read }, {
      segmentBytes: context.tuning.copySegmentBytes,
      policy: context.policy,
      signal: context.request.signal,
      onBytes: (n) => (copied += n),
    });
  }
  const found = await findDiskLayer(client, from, manifest, context.request.signal);
  const manifestDigest = (await client.putManifest(target.repository, target.tag, manifest.bytes, manifest.mediaType)) ?? "";
  const storedBytes = manifest.config.size + manifest.layers.reduce((sum, l) => sum + l.size, 0);
  const probe = found.probe ?? (await probeFromLabels(client, from, manifest));
  return { ...resultOf(probe, { manifestDigest, storedBytes, durationMs: Date.now() - context.started }, copied, context.started), sourceCompression: found.probe ? "none" : undefined };
}

/** A disk file kept compressed in its layer (DVCR's own importer): the labels describe it. */
async function probeFromLabels(client: RegistryClient, repository: string, manifest: ImageManifest): Promise<PlainDiskProbe> {
  const chunks: Buffer[] = [];
  for await (const chunk of await client.getBlob(repository, manifest.config.digest)) chunks.push(chunk as Buffer);
  const labels = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { config?: { Labels?: Record<string, string> } }).config?.Labels ?? {};
  const format = labels["source-image-format"];
  const size = Number(labels["source-image-size"]);
  const virtualSize = Number(labels["source-image-virtual-size"]);
  if (!format || !Number.isFinite(size) || !Number.isFinite(virtualSize)) throw new ImportError("invalid", "the image's disk is compressed in its layer and its config has no source-image-* labels");
  return { format: format as PlainDiskProbe["format"], size, virtualSize, cdrom: format === "iso", details: {}, path: "disk/", compression: null };
}
