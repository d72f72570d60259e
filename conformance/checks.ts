import { createHash, randomBytes } from "node:crypto";
import type { RegistryClient } from "./http.js";

/** Assertion helpers: each failure message names what was expected and what came back. */
export class CheckFailed extends Error {}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function blob(size: number): { data: Buffer; digest: string } {
  const data = randomBytes(size);
  return { data, digest: sha256(data) };
}

export function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

export function expectStatus(res: Response, ...statuses: number[]): void {
  expect(statuses.includes(res.status), `expected status ${statuses.join(" or ")}, got ${res.status}`);
}

export function expectHeader(res: Response, name: string, value?: string | RegExp): string {
  const actual = res.headers.get(name);
  expect(actual !== null, `missing ${name} header`);
  if (typeof value === "string") expect(actual === value, `${name}: expected ${value}, got ${actual}`);
  if (value instanceof RegExp) expect(value.test(actual), `${name}: ${actual} does not match ${value}`);
  return actual;
}

/** A spec error response: the status, and a body `{"errors":[{"code","message"}]}` with one of `codes`. */
export async function expectError(res: Response, statuses: number[], codes: string[]): Promise<void> {
  expectStatus(res, ...statuses);
  if (res.status === 405 && codes.length === 0) return;
  const text = await res.text();
  let body: { errors?: { code?: unknown; message?: unknown }[] };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new CheckFailed(`error body is not JSON: ${text.slice(0, 120)}`);
  }
  expect(Array.isArray(body.errors) && body.errors.length > 0, `error body has no errors array: ${text.slice(0, 120)}`);
  for (const e of body.errors) expect(typeof e.code === "string", `error entry without a code: ${JSON.stringify(e)}`);
  if (codes.length > 0) {
    const got = body.errors.map((e) => e.code as string);
    expect(got.some((c) => codes.includes(c)), `expected error code ${codes.join(" or ")}, got ${got.join(",")}`);
  }
}

/** Push helpers used by the checks' set-up. */
export class Pusher {
  constructor(private readonly client: RegistryClient) {}

  async monolithic(repo: string, data: Uint8Array, digest = sha256(data)): Promise<Response> {
    const post = await this.client.request(`/v2/${repo}/blobs/uploads/`, { method: "POST" });
    expectStatus(post, 202);
    const location = this.client.resolve(expectHeader(post, "location"));
    const sep = location.includes("?") ? "&" : "?";
    return this.client.request(`${location}${sep}digest=${encodeURIComponent(digest)}`, {
      method: "PUT",
      headers: { "Content-Type": "application/octet-stream", "Content-Length": String(data.length) },
      body: data,
    });
  }

  async blob(repo: string, data: Uint8Array): Promise<string> {
    const res = await this.monolithic(repo, data);
    expectStatus(res, 201);
    return sha256(data);
  }

  async manifest(repo: string, reference: string, body: string, mediaType: string): Promise<Response> {
    return this.client.request(`/v2/${repo}/manifests/${reference}`, {
      method: "PUT",
      headers: { "Content-Type": mediaType },
      body,
    });
  }
}

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const ALL_MANIFESTS = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(", ");

export interface Image {
  body: string;
  digest: string;
  size: number;
  config: { data: Buffer; digest: string };
  layer: { data: Buffer; digest: string };
}

/** Push a config and a layer, and build (not push) an image manifest over them. */
export async function prepareImage(pusher: Pusher, repo: string, opts: { docker?: boolean; subject?: object; artifactType?: string } = {}): Promise<Image> {
  const config = { data: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, nonce: randomBytes(8).toString("hex") })), digest: "" };
  config.digest = sha256(config.data);
  const layer = blob(2048);
  await pusher.blob(repo, config.data);
  await pusher.blob(repo, layer.data);
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: opts.docker ? DOCKER_MANIFEST : OCI_MANIFEST,
    ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
    config: {
      mediaType: opts.docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json",
      digest: config.digest,
      size: config.data.length,
    },
    layers: [
      {
        mediaType: opts.docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar",
        digest: layer.digest,
        size: layer.data.length,
      },
    ],
    ...(opts.subject ? { subject: opts.subject } : {}),
  };
  const body = JSON.stringify(manifest);
  return { body, digest: sha256(body), size: Buffer.byteLength(body), config, layer };
}
