import { randomBytes } from "node:crypto";
import { sha256, type TestClient } from "./client.js";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

export interface PushedManifest {
  digest: string;
  size: number;
  body: string;
  mediaType: string;
  /** Blobs this manifest references (config first). */
  blobs: { digest: string; size: number; data: Buffer }[];
}

async function putManifest(client: TestClient, repo: string, reference: string, body: string, mediaType: string): Promise<void> {
  const res = await client.pushManifest(repo, reference, body, mediaType);
  if (res.status !== 201) throw new Error(`PUT manifest ${repo}:${reference}: ${res.status} ${await res.text()}`);
}

/**
 * An image manifest with its own config (unique per call, so no blob is shared by accident)
 * and one layer, pushed under `reference` (a tag), or by its digest when reference is omitted.
 */
export async function pushOwnImage(
  client: TestClient,
  repo: string,
  reference?: string,
  opts: { layer?: Buffer; subject?: { digest: string; size: number; mediaType: string }; artifactType?: string } = {},
): Promise<PushedManifest> {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", nonce: randomBytes(8).toString("hex") }));
  const layer = opts.layer ?? randomBytes(4096);
  const configDigest = await client.pushBlob(repo, config);
  const layerDigest = await client.pushBlob(repo, layer);
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length }],
  };
  if (opts.subject) manifest.subject = opts.subject;
  if (opts.artifactType) manifest.artifactType = opts.artifactType;
  const body = JSON.stringify(manifest);
  const digest = sha256(body);
  await putManifest(client, repo, reference ?? digest, body, OCI_MANIFEST);
  return {
    digest,
    size: Buffer.byteLength(body),
    body,
    mediaType: OCI_MANIFEST,
    blobs: [
      { digest: configDigest, size: config.length, data: config },
      { digest: layerDigest, size: layer.length, data: layer },
    ],
  };
}

/** An image index over `children` (already in `repo`), pushed under `reference` or its digest. */
export async function pushIndex(client: TestClient, repo: string, children: PushedManifest[], reference?: string): Promise<PushedManifest> {
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: children.map((c, i) => ({ mediaType: c.mediaType, digest: c.digest, size: c.size, platform: { architecture: `arch${i}`, os: "linux" } })),
  });
  const digest = sha256(body);
  await putManifest(client, repo, reference ?? digest, body, OCI_INDEX);
  return { digest, size: Buffer.byteLength(body), body, mediaType: OCI_INDEX, blobs: [] };
}

export function descriptorOf(m: PushedManifest): { digest: string; size: number; mediaType: string } {
  return { digest: m.digest, size: m.size, mediaType: m.mediaType };
}

/** HTTP status of HEAD on a manifest or blob. */
export async function headStatus(client: TestClient, repo: string, kind: "manifests" | "blobs", reference: string): Promise<number> {
  return (await client.fetch(`/v2/${repo}/${kind}/${reference}`, { method: "HEAD" })).status;
}
