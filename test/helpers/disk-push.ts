import { setTimeout as sleep } from "node:timers/promises";
import type { ImageEntry } from "../../src/index/index.js";
import { diskImageConfig, imageManifest, layerMediaType, type ImageFlavour } from "../e2e/helpers/disk-image.js";
import { sha256, type TestClient } from "./client.js";

export interface PushedDiskImage {
  manifestDigest: string;
  layerDigest: string;
  layerSize: number;
  /** The manifest PUT's response (already checked to be 201). */
  response: Response;
}

/** Push a one-layer image holding `layer` (a tar or gzip tar), with `labels` in its config. */
export async function pushDiskImage(
  client: TestClient,
  repository: string,
  tag: string,
  layer: Buffer,
  options: { labels?: Record<string, string>; flavour?: ImageFlavour; gzip?: boolean } = {},
): Promise<PushedDiskImage> {
  const flavour = options.flavour ?? "oci";
  const layerDigest = await client.pushBlob(repository, layer);
  const config = diskImageConfig(flavour, layerDigest, options.labels);
  await client.pushBlob(repository, config.bytes);
  const manifest = imageManifest(flavour, config.descriptor, {
    mediaType: layerMediaType(flavour, options.gzip ?? false),
    digest: layerDigest,
    size: layer.length,
  });
  const response = await client.pushManifest(repository, tag, manifest.bytes.toString("utf8"), manifest.descriptor.mediaType);
  if (response.status !== 201) throw new Error(`PUT manifest: ${response.status} ${await response.text()}`);
  return { manifestDigest: sha256(manifest.bytes), layerDigest, layerSize: layer.length, response };
}

export async function getImageEntry(client: TestClient, repository: string, query = ""): Promise<ImageEntry> {
  const res = await client.fetch(`/api/v1/images/${repository}${query}`);
  if (res.status !== 200) throw new Error(`GET image ${repository}${query}: ${res.status} ${await res.text()}`);
  return (await res.json()) as ImageEntry;
}

/** Poll the index until the image is `ready` (the index works in the background). */
export async function waitForImage(client: TestClient, repository: string, query = "", timeoutMs = 60_000): Promise<ImageEntry> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const entry = await getImageEntry(client, repository, query);
    if (entry.status === "ready") return entry;
    if (Date.now() > until) throw new Error(`image ${repository}${query} still ${entry.status} after ${timeoutMs} ms`);
    await sleep(25);
  }
}
