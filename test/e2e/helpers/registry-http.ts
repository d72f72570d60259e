import { Readable } from "node:stream";
import { sha256 } from "../../helpers/client.js";
import { MANIFEST_MEDIA_TYPES, type Descriptor } from "../../../src/oci/index.js";
import { diskEntry, isGzipLayer, readLayer, type LayerEntry } from "./disk-layer.js";

export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface FetchedManifest {
  /** The Content-Type the registry served. */
  contentType: string;
  /** Docker-Content-Digest as served, and the sha256 of the bytes actually received. */
  headerDigest: string;
  digest: string;
  manifest: ImageManifest;
}

/** GET a manifest the way clients do (Accept listing every manifest type) and check its bytes. */
export async function fetchManifest(base: string, repository: string, reference: string): Promise<FetchedManifest> {
  const res = await fetch(`${base}/v2/${repository}/manifests/${reference}`, { headers: { Accept: MANIFEST_MEDIA_TYPES.join(", ") } });
  if (res.status !== 200) throw new Error(`GET manifest ${repository}:${reference}: ${res.status} ${await res.text()}`);
  const body = Buffer.from(await res.arrayBuffer());
  return {
    contentType: res.headers.get("content-type") ?? "",
    headerDigest: res.headers.get("docker-content-digest") ?? "",
    digest: sha256(body),
    manifest: JSON.parse(body.toString("utf8")) as ImageManifest,
  };
}

export async function fetchBlob(base: string, repository: string, digest: string): Promise<Buffer> {
  const res = await fetch(`${base}/v2/${repository}/blobs/${digest}`);
  if (res.status !== 200) throw new Error(`GET blob ${digest}: ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}

/** GET a blob as a stream: disk layers are not read into memory. */
export async function streamBlob(base: string, repository: string, digest: string): Promise<Readable> {
  const res = await fetch(`${base}/v2/${repository}/blobs/${digest}`);
  if (res.status !== 200 || !res.body) throw new Error(`GET blob ${digest}: ${res.status} ${await res.text()}`);
  return Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
}

export interface PulledDisk {
  manifest: FetchedManifest;
  layer: Descriptor;
  entries: LayerEntry[];
  disk: LayerEntry;
}

/** Pull a one-layer disk image over HTTP as a disk importer does and hash `disk/<file>` from the stream. */
export async function pullDiskOverHttp(base: string, repository: string, reference: string): Promise<PulledDisk> {
  const manifest = await fetchManifest(base, repository, reference);
  const [layer, ...rest] = manifest.manifest.layers;
  if (!layer || rest.length > 0) throw new Error(`expected one layer: ${JSON.stringify(manifest.manifest)}`);
  const entries = await readLayer(await streamBlob(base, repository, layer.digest), isGzipLayer(layer.mediaType));
  return { manifest, layer, entries, disk: diskEntry(entries) };
}
