import os from "node:os";
import type { Readable } from "node:stream";
import { parseRepositoryName, parseTag } from "../oci/index.js";
import { uploadBlob } from "./blob-upload.js";
import { ChecksumTap, validateChecksums } from "./checksums.js";
import { COMPRESSION_MAGIC_BYTES, decompressedFileName, decoder, detectCompression, type SourceCompression } from "./compression.js";
import { destinationClient, type Endpoint } from "./endpoints.js";
import { DigestTap, DiskDetector, diskLayerTar, safeFileName } from "./disk-layer.js";
import { ImportError, toImportError } from "./errors.js";
import { diskImageConfig, diskImageManifest, diskLabels, layerMediaType } from "./image.js";
import { ProgressMeter } from "./progress.js";
import { importFromRegistry, mountFromRepository } from "./registry-source.js";
import { retryPolicy, type RetryPolicy } from "./retry.js";
import { openFileSource, openHttpSource, openStreamSource, type SourceBytes } from "./sources.js";
import { spoolToFile, type Spool } from "./spool.js";
import type { Checksum, ImportRequest, ImportResult, ImportTuning } from "./types.js";
import { chain, peek } from "./stream-util.js";
import { xzUncompressedSize } from "./xz-index.js";

const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;
/**
 * A blob copied from another registry goes in PATCHes this large, each streamed from one ranged
 * read (nothing buffered): a dvcr destination fsyncs and records every PATCH, so 8 MiB ones
 * cost it a round trip and a flush each; a cut one is read again, at most this much.
 */
const DEFAULT_COPY_SEGMENT_BYTES = 256 * 1024 * 1024;
/** DVCR's: no byte for 10 minutes is a stall (downloads here; upload bodies in src/uploader). */
export const DEFAULT_STALL_MS = 10 * 60_000;
const DEFAULT_SPOOL_RESERVE = 64 * 1024 * 1024;

/** What one import needs beyond its request, resolved once. */
export interface ImportContext {
  request: ImportRequest;
  checksums: Checksum[];
  policy: RetryPolicy;
  tuning: Required<Pick<ImportTuning, "chunkBytes" | "copySegmentBytes" | "stallTimeoutMs" | "spoolDir" | "spoolReserveBytes">>;
  destination: Endpoint;
  started: number;
}

function validateDestination(request: ImportRequest): void {
  try {
    parseRepositoryName(request.destination.repository);
    parseTag(request.destination.tag);
  } catch (err) {
    throw new ImportError("invalid", `destination ${request.destination.repository}:${request.destination.tag}: ${(err as Error).message}`);
  }
}

/**
 * Turn a source into a `FROM scratch` disk image in the destination registry: decompress (gz/xz,
 * by magic bytes), detect the format, pack one uncompressed tar layer (`disk/`, `disk/<file>`),
 * push it, its config (DVCR's labels) and the manifest, and tag it. Streams throughout; on any
 * failure nothing is tagged, the upload session is cancelled and the spool (if any) removed.
 */
export async function importImage(request: ImportRequest): Promise<ImportResult> {
  const started = Date.now();
  const tuning = request.tuning ?? {};
  let context: ImportContext | undefined;
  try {
    validateDestination(request);
    const checksums = validateChecksums(request.checksums ?? []);
    context = {
      request,
      checksums,
      policy: retryPolicy(tuning),
      tuning: {
        chunkBytes: tuning.chunkBytes ?? DEFAULT_CHUNK_BYTES,
        copySegmentBytes: tuning.copySegmentBytes ?? DEFAULT_COPY_SEGMENT_BYTES,
        stallTimeoutMs: tuning.stallTimeoutMs ?? DEFAULT_STALL_MS,
        spoolDir: tuning.spoolDir ?? os.tmpdir(),
        spoolReserveBytes: tuning.spoolReserveBytes ?? DEFAULT_SPOOL_RESERVE,
      },
      destination: await destinationClient(request.destination, request.signal),
      started,
    };
    request.signal?.throwIfAborted();
    const { source } = request;
    if (source.type === "dvcr") return await mountFromRepository(context, source.repository, source.reference);
    if (source.type === "registry") return await importFromRegistry(context, source);
    const opened =
      source.type === "file"
        ? await openFileSource(source.path)
        : source.type === "http"
          ? await openHttpSource(source, { policy: context.policy, stallTimeoutMs: context.tuning.stallTimeoutMs, signal: request.signal })
          : openStreamSource(source);
    try {
      return await packAndPush(context, opened);
    } finally {
      await opened.close();
    }
  } catch (err) {
    throw toImportError(err, request.signal);
  } finally {
    await context?.destination.close();
  }
}

interface SizedDisk {
  size: number;
  content: Readable;
  sizeFrom: NonNullable<ImportResult["sizeFrom"]>;
  spool?: Spool;
}

/**
 * Where the disk's size comes from, cheapest first: the source itself (uncompressed), the xz
 * index (three ranged reads), else a spool of the decompressed disk (README: "Decompressed size").
 */
async function sizeDisk(context: ImportContext, source: SourceBytes, compression: SourceCompression, decoded: Readable): Promise<SizedDisk> {
  if (compression === "none" && source.size !== undefined) return { size: source.size, content: decoded, sizeFrom: "source" };
  if (compression === "xz" && source.readRange && source.size !== undefined) {
    return { size: await xzUncompressedSize(source.readRange, source.size), content: decoded, sizeFrom: "xz-index" };
  }
  const spool = await spoolToFile(decoded, context.tuning.spoolDir, context.tuning.spoolReserveBytes, context.request.signal);
  return { size: spool.size, content: spool.open(), sizeFrom: "spool", spool };
}

/** Source bytes → checksums, progress → decompression → size → tar layer → push. */
export async function packAndPush(context: ImportContext, source: SourceBytes): Promise<ImportResult> {
  const { request } = context;
  const checksums = new ChecksumTap(context.checksums);
  const meter = new ProgressMeter(source.size, request.onProgress);
  const { head, stream } = await peek(source.stream(), COMPRESSION_MAGIC_BYTES);
  if (head.length === 0) throw new ImportError("invalid", "the source is empty");
  const compression = detectCompression(head);
  // No stage for what is not asked: every stage costs each piece a hop.
  const stages = [context.checksums.length > 0 ? checksums : null, meter, decoder(compression)].filter((s) => s !== null);
  const decoded = chain(stream, stages);
  let disk: SizedDisk | undefined;
  try {
    disk = await sizeDisk(context, source, compression, decoded);
    if (disk.size === 0) throw new ImportError("invalid", "the source holds an empty disk");
    const detector = new DiskDetector(disk.size);
    const digest = new DigestTap();
    const fileName = safeFileName(decompressedFileName(source.fileName, compression));
    const layerStream = chain(diskLayerTar(fileName, disk.size, chain(disk.content, [detector])), [digest]);
    const { destination } = context;
    const repository = request.destination.repository;
    const layer = await uploadBlob(destination.client, repository, layerStream, {
      chunkBytes: context.tuning.chunkBytes,
      policy: context.policy,
      signal: request.signal,
      digest: () => digest.digest(),
      // The whole source has passed: a mismatch is known before the blob is committed.
      beforeCommit: () => checksums.verify(),
    });
    const header = detector.header!;
    const result = await pushDiskImage(context, { digest: layer.digest, size: layer.size }, diskLabels(disk.size, header));
    return {
      ...result,
      sourceImageSize: disk.size,
      sourceImageVirtualSize: header.virtualSize,
      sourceImageFormat: header.format,
      unpackedBytes: disk.size,
      cdrom: header.cdrom,
      averageSpeed: meter.averageSpeed(),
      sourceCompression: compression,
      sizeFrom: disk.sizeFrom,
    };
  } catch (err) {
    decoded.destroy();
    throw err;
  } finally {
    await disk?.spool?.dispose();
  }
}

/** Push the config with the labels and the manifest of a layer already in the destination, and tag it. */
export async function pushDiskImage(
  context: ImportContext,
  layer: { digest: string; size: number },
  labels: Record<string, string>,
): Promise<Pick<ImportResult, "manifestDigest" | "storedBytes" | "durationMs">> {
  const { destination } = context;
  const { repository, tag } = context.request.destination;
  const format = context.request.destination.manifestFormat ?? "docker";
  const config = diskImageConfig(format, layer.digest, labels);
  await destination.client.pushSmallBlob(repository, config.descriptor.digest, config.bytes);
  const manifest = diskImageManifest(format, config.descriptor, { mediaType: layerMediaType(format), ...layer });
  await destination.client.putManifest(repository, tag, manifest.bytes, manifest.descriptor.mediaType);
  return { manifestDigest: manifest.descriptor.digest, storedBytes: config.descriptor.size + layer.size, durationMs: Date.now() - context.started };
}
