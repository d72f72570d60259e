import { pipeline, Readable } from "node:stream";
import type { TestClient } from "../../helpers/client.js";
import type { Descriptor } from "../../../src/oci/index.js";
import { diskLayerTar } from "./disk-layer.js";
import { diskImageConfig, imageManifest, layerMediaType } from "./disk-image.js";
import { DigestingStream } from "./digests.js";
import { isIso9660, qemuImgInfo, type DiskImage } from "./disks.js";

export const IMPORTER_CHUNK_BYTES = 64 * 1024 * 1024;

/** The labels DVCR's importer writes into `config.Labels`, derived the way it derives them. */
export async function importerLabels(disk: DiskImage): Promise<Record<string, string>> {
  const info = await qemuImgInfo(disk.path);
  // qemu-img calls ISO images raw; the importer tells them apart by their volume descriptor.
  const format = info.format === "raw" && isIso9660(disk.path) ? "iso" : info.format;
  return {
    "erofs-compatible-layers": "true",
    "source-image-size": String(disk.size),
    "source-image-virtual-size": String(info.virtualSize),
    "source-image-format": format,
  };
}

export interface ImporterPush {
  manifestDigest: string;
  config: Descriptor;
  layer: Descriptor;
  labels: Record<string, string>;
  /** Content-Range of every PATCH sent (empty string for a PATCH sent without one). */
  patches: string[];
}

/** `undefined` chunk size: one PATCH streaming the whole layer, as go-containerregistry's stream.Layer does. */
export interface ImporterOptions {
  chunkBytes?: number;
}

/**
 * Push `disk` the way DVCR's importer does: an uncompressed Docker schema2 image whose layer tar
 * is streamed from the file and hashed on the way out, uploaded in PATCH chunks (at most one
 * chunk in memory), then the config with the importer's labels, then the manifest.
 */
export async function pushAsImporter(client: TestClient, repository: string, tag: string, disk: DiskImage, options: ImporterOptions = {}): Promise<ImporterPush> {
  const tar = new DigestingStream();
  // A failure reading the disk destroys `tar` with that error, which the upload loop then throws.
  pipeline(diskLayerTar(disk), tar, () => undefined);
  let location = await client.startUpload(repository);
  const patches: string[] = [];

  const patch = async (body: Buffer | ReadableStream<Uint8Array>, range?: [number, number]): Promise<void> => {
    const headers: Record<string, string> = { "Content-Type": "application/octet-stream" };
    if (range) headers["Content-Range"] = `${range[0]}-${range[1]}`;
    const res = await client.fetch(location, { method: "PATCH", body, headers });
    if (res.status !== 202) throw new Error(`PATCH ${headers["Content-Range"] ?? "(streamed)"}: ${res.status} ${await res.text()}`);
    // The spec: the Location of the latest response is where the session continues.
    location = res.headers.get("location") ?? location;
    patches.push(headers["Content-Range"] ?? "");
  };

  if (options.chunkBytes === undefined) {
    await patch(Readable.toWeb(tar) as ReadableStream<Uint8Array>);
  } else {
    const chunk = Buffer.allocUnsafe(options.chunkBytes);
    let filled = 0;
    let offset = 0;
    const flush = async () => {
      await patch(chunk.subarray(0, filled), [offset, offset + filled - 1]);
      offset += filled;
      filled = 0;
    };
    for await (const data of tar as AsyncIterable<Buffer>) {
      for (let used = 0; used < data.length; ) {
        const n = data.copy(chunk, filled, used);
        filled += n;
        used += n;
        if (filled === chunk.length) await flush();
      }
    }
    if (filled > 0) await flush();
  }

  const layer: Descriptor = { mediaType: layerMediaType("docker", false), digest: tar.digest(), size: tar.size };
  const sep = location.includes("?") ? "&" : "?";
  const closed = await client.fetch(`${location}${sep}digest=${layer.digest}`, { method: "PUT" });
  if (closed.status !== 201) throw new Error(`PUT layer: ${closed.status} ${await closed.text()}`);

  const labels = await importerLabels(disk);
  // Uncompressed: the layer digest is also its diff_id.
  const config = diskImageConfig("docker", layer.digest, labels);
  await client.pushBlob(repository, config.bytes);
  const manifest = imageManifest("docker", config.descriptor, layer);
  const res = await client.pushManifest(repository, tag, manifest.bytes.toString("utf8"), manifest.descriptor.mediaType);
  if (res.status !== 201) throw new Error(`PUT manifest: ${res.status} ${await res.text()}`);
  return { manifestDigest: manifest.descriptor.digest, config: config.descriptor, layer, labels, patches };
}
