import { createWriteStream, mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { MediaType, type Descriptor } from "../../../src/oci/index.js";
import { diskLayerTar } from "./disk-layer.js";
import { diskImageConfig, imageManifest, layerMediaType, type Blob } from "./disk-image.js";
import { DigestingStream } from "./digests.js";
import type { DiskImage } from "./disks.js";

export interface OciLayoutImage {
  /** `oci:<dir>:<tag>`, as skopeo names it. */
  reference: string;
  manifest: Descriptor;
  layer: Descriptor;
  /** sha256 of the uncompressed layer tar. */
  diffId: string;
}

function blobPath(dir: string, digest: string): string {
  return path.join(dir, "blobs", ...digest.split(":"));
}

function writeBlob(dir: string, blob: Blob): void {
  writeFileSync(blobPath(dir, blob.descriptor.digest), blob.bytes);
}

/**
 * Write an OCI image layout (image-spec image-layout.md) holding one disk image: the layer is
 * streamed from the disk file into the layout, gzip-compressed or not, hashed on the way.
 */
export async function writeDiskOciLayout(dir: string, tag: string, disk: DiskImage, gzip: boolean): Promise<OciLayoutImage> {
  mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
  writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));

  const tar = new DigestingStream();
  const stored = new DigestingStream();
  const temp = path.join(dir, "layer.partial");
  await pipeline(diskLayerTar(disk), tar, ...(gzip ? [createGzip()] : []), stored, createWriteStream(temp));
  const layer: Descriptor = { mediaType: layerMediaType("oci", gzip), digest: stored.digest(), size: stored.size };
  renameSync(temp, blobPath(dir, layer.digest));

  const config = diskImageConfig("oci", tar.digest());
  writeBlob(dir, config);
  const manifest = imageManifest("oci", config.descriptor, layer);
  writeBlob(dir, manifest);
  const entry = { ...manifest.descriptor, annotations: { "org.opencontainers.image.ref.name": tag } };
  writeFileSync(path.join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [entry] }));
  return { reference: `oci:${dir}:${tag}`, manifest: manifest.descriptor, layer, diffId: tar.digest() };
}
