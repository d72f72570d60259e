import { createHash, randomBytes } from "node:crypto";
import type { RegistryClient, Reply } from "./http.js";

/** A check's failure: the message names what was expected and what came back. */
export class CheckFailed extends Error {}

export function fail(message: string): never {
  throw new CheckFailed(message);
}

export function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export interface Blob {
  data: Buffer;
  digest: string;
}

export function randomBlob(size: number): Blob {
  const data = randomBytes(size);
  return { data, digest: sha256(data) };
}

export function blobOf(data: Buffer | string): Blob {
  const buf = typeof data === "string" ? Buffer.from(data) : data;
  return { data: buf, digest: sha256(buf) };
}

export function expectStatus(r: Reply, ...statuses: number[]): void {
  expect(statuses.includes(r.status), `expected status ${statuses.join(" or ")}, got ${r.status} (${r.describe()})`);
}

/** The header's value; with `value`, it must equal it (a string) or match it (a RegExp). */
export function expectHeader(r: Reply, name: string, value?: string | RegExp): string {
  const actual = r.header(name);
  expect(actual !== null, `missing ${name} header (${r.describe()})`);
  if (typeof value === "string") expect(actual === value, `${name}: expected ${value}, got ${actual} (${r.describe()})`);
  if (value instanceof RegExp) expect(value.test(actual), `${name}: ${actual} does not match ${value} (${r.describe()})`);
  return actual;
}

/** Content-Type must be `mediaType`, parameters (which the spec tells clients to ignore) aside. */
export function expectContentType(r: Reply, mediaType: string): void {
  const actual = expectHeader(r, "content-type");
  const bare = actual.split(";")[0]!.trim().toLowerCase();
  expect(bare === mediaType, `Content-Type: expected ${mediaType}, got ${actual} (${r.describe()})`);
}

export function expectBody(r: Reply, expected: Uint8Array | string, what = "body"): void {
  const want = typeof expected === "string" ? Buffer.from(expected) : Buffer.from(expected);
  expect(r.body.equals(want), `${what} differs from what was pushed: ${r.body.length} bytes, expected ${want.length} (${r.describe()})`);
}

/** Codes of the spec's error table, plus the legacy Docker ones it says clients may meet. */
export const ERROR_CODES = [
  "BLOB_UNKNOWN",
  "BLOB_UPLOAD_INVALID",
  "BLOB_UPLOAD_UNKNOWN",
  "DIGEST_INVALID",
  "MANIFEST_BLOB_UNKNOWN",
  "MANIFEST_INVALID",
  "MANIFEST_UNKNOWN",
  "NAME_INVALID",
  "NAME_UNKNOWN",
  "SIZE_INVALID",
  "UNAUTHORIZED",
  "DENIED",
  "UNSUPPORTED",
  "TOOMANYREQUESTS",
  "TAG_INVALID",
  "MANIFEST_UNVERIFIED",
];

/** The codes of a spec error body `{"errors":[{"code","message","detail"}]}`; fails on any other shape. */
export function errorCodes(r: Reply): string[] {
  const body = r.json() as { errors?: unknown } | undefined;
  expect(body !== undefined && typeof body === "object" && body !== null, `error body is not JSON (${r.describe()})`);
  const errors = body.errors;
  expect(Array.isArray(errors) && errors.length > 0, `error body has no "errors" array (${r.describe()})`);
  const codes: string[] = [];
  for (const e of errors as unknown[]) {
    expect(typeof e === "object" && e !== null, `error entry is not an object (${r.describe()})`);
    const { code, message } = e as { code?: unknown; message?: unknown };
    expect(typeof code === "string" && /^[A-Z_]+$/.test(code), `error code ${JSON.stringify(code)} is not uppercase letters and underscores (${r.describe()})`);
    expect(message === undefined || typeof message === "string", `error message is not a string (${r.describe()})`);
    expect(ERROR_CODES.includes(code), `error code ${code} is not one of the spec's (${r.describe()})`);
    codes.push(code);
  }
  return codes;
}

/** A spec error response: one of `statuses`, and a well-formed error body carrying one of `codes`. */
export function expectError(r: Reply, statuses: number[], codes: string[]): void {
  expectStatus(r, ...statuses);
  const got = errorCodes(r);
  if (codes.length > 0) expect(got.some((c) => codes.includes(c)), `expected error code ${codes.join(" or ")}, got ${got.join(",")} (${r.describe()})`);
}

/**
 * A malformed reference has no error code of its own in the spec: a 400 must carry a spec error
 * body, and a 404 (a router that does not match such a path) may carry any body (4XX bodies
 * "MAY be in any format"), but if it is JSON it must be a spec error body.
 */
export function expectRejected(r: Reply, codes400: string[]): string | void {
  expectStatus(r, 400, 404);
  if (r.status === 400) {
    const got = errorCodes(r);
    expect(got.some((c) => codes400.includes(c)), `expected error code ${codes400.join(" or ")}, got ${got.join(",")} (${r.describe()})`);
    return;
  }
  if (r.json() !== undefined) {
    errorCodes(r);
    return;
  }
  return `404 without an error body (${r.header("content-type") ?? "no Content-Type"})`;
}

/**
 * A 404 for something that cannot exist: a JSON body must be a spec error body with one of
 * `codes`; a router that matched no route may answer with any body (noted).
 */
export function expectNotFound(r: Reply, codes: string[]): string | void {
  expectStatus(r, 404);
  if (r.method === "HEAD" || r.json() === undefined) return r.method === "HEAD" ? undefined : `404 without an error body (${r.header("content-type") ?? "no Content-Type"})`;
  const got = errorCodes(r);
  expect(got.some((c) => codes.includes(c)), `expected error code ${codes.join(" or ")}, got ${got.join(",")} (${r.describe()})`);
}

/** The upstream suite's nonexistent manifest: neither a tag (leading '.') nor a digest. */
export const NOT_A_REFERENCE = ".INVALID_MANIFEST_NAME";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/** What the suite accepts when it pulls a manifest (content negotiation: every kind it pushes). */
export const ACCEPT_MANIFESTS = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(", ");
/** The OCI empty descriptor's blob, `{}`. */
export const EMPTY_JSON = blobOf("{}");

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

/** A manifest as pushed: its exact bytes, media type and digest. */
export interface Manifest {
  body: string;
  mediaType: string;
  digest: string;
  size: number;
  /** The blobs it references (which the suite pushes first). */
  blobs: Blob[];
}

export function manifestOf(json: object, mediaType: string, blobs: Blob[] = []): Manifest {
  const body = JSON.stringify(json);
  return { body, mediaType, digest: sha256(body), size: Buffer.byteLength(body), blobs };
}

export function descriptorOf(m: Manifest, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType: m.mediaType, digest: m.digest, size: m.size, ...extra };
}

/** A random image config (random so every run's digests are new). */
export function configBlob(): Blob {
  return blobOf(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config: {}, nonce: randomBytes(8).toString("hex") }));
}

/** An image manifest over a fresh config and layer (OCI, or Docker schema2 with `docker`). */
export function imageManifest(opts: { docker?: boolean; layerSize?: number; layers?: number; subject?: Descriptor; annotations?: Record<string, string> } = {}): Manifest {
  const config = configBlob();
  const layers = Array.from({ length: opts.layers ?? 1 }, () => randomBlob(opts.layerSize ?? 2048));
  const json = {
    schemaVersion: 2,
    mediaType: opts.docker ? DOCKER_MANIFEST : OCI_MANIFEST,
    config: { mediaType: opts.docker ? DOCKER_CONFIG : OCI_CONFIG, digest: config.digest, size: config.data.length },
    layers: layers.map((l) => ({ mediaType: opts.docker ? DOCKER_LAYER : OCI_LAYER, digest: l.digest, size: l.data.length })),
    ...(opts.subject ? { subject: opts.subject } : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  return manifestOf(json, opts.docker ? DOCKER_MANIFEST : OCI_MANIFEST, [config, ...layers]);
}

/**
 * An artifact manifest in the image-spec v1.1 form: `artifactType`, the empty config and one
 * layer. Without `artifactType`, the config's media type carries the type instead.
 */
export function artifactManifest(opts: { artifactType?: string; configType?: string; subject?: Descriptor; annotations?: Record<string, string> }): Manifest {
  const layer = randomBlob(256);
  const json = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
    config: { mediaType: opts.configType ?? OCI_EMPTY, digest: EMPTY_JSON.digest, size: EMPTY_JSON.data.length },
    layers: [{ mediaType: "application/octet-stream", digest: layer.digest, size: layer.data.length }],
    ...(opts.subject ? { subject: opts.subject } : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  return manifestOf(json, OCI_MANIFEST, [EMPTY_JSON, layer]);
}

/** An OCI index (or, with `docker`, a Docker manifest list) over `children`. */
export function indexManifest(children: Manifest[], opts: { docker?: boolean; artifactType?: string; subject?: Descriptor; annotations?: Record<string, string> } = {}): Manifest {
  const mediaType = opts.docker ? DOCKER_LIST : OCI_INDEX;
  const json = {
    schemaVersion: 2,
    mediaType,
    ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
    manifests: children.map((c) => descriptorOf(c, { platform: { architecture: "amd64", os: "linux" } })),
    ...(opts.subject ? { subject: opts.subject } : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  return manifestOf(json, mediaType);
}

/** What a run created, so that it can be deleted at the end where the registry lets us. */
export class Created {
  readonly manifests: { repo: string; digest: string }[] = [];
  readonly blobs: { repo: string; digest: string }[] = [];
  readonly sessions: string[] = [];
}

/** Push helpers for the checks' set-up: the plainest requests the spec has (POST then PUT, manifest PUT). */
export class Pusher {
  constructor(
    private readonly client: RegistryClient,
    private readonly created: Created,
  ) {}

  /** POST then PUT `?digest=` with the whole blob; the PUT's reply. */
  async monolithic(repo: string, data: Uint8Array, digest = sha256(data)): Promise<Reply> {
    const post = await this.client.request(`/v2/${repo}/blobs/uploads/`, { method: "POST" });
    expectStatus(post, 202);
    const location = expectHeader(post, "location");
    const put = await this.client.request(this.client.withQuery(location, "digest", digest), {
      method: "PUT",
      headers: { "Content-Type": "application/octet-stream" },
      body: data,
    });
    if (put.status === 201) this.created.blobs.push({ repo, digest });
    else this.created.sessions.push(this.client.resolve(location));
    return put;
  }

  /** Push a blob, failing the check (with the registry's answer) if it is not stored. */
  async blob(repo: string, blob: Blob): Promise<void> {
    const put = await this.monolithic(repo, blob.data, blob.digest);
    expect(put.status === 201, `set-up: pushing blob ${blob.digest} to ${repo} failed (${put.describe()})`);
  }

  /** PUT a manifest (by tag or digest); its reply. */
  async manifest(repo: string, reference: string, m: Manifest, contentType = m.mediaType): Promise<Reply> {
    const res = await this.client.request(`/v2/${repo}/manifests/${reference}`, {
      method: "PUT",
      headers: { "Content-Type": contentType },
      body: m.body,
    });
    if (res.status === 201) this.created.manifests.push({ repo, digest: m.digest });
    return res;
  }

  /** Push a manifest's blobs, then the manifest under each reference, failing if any is refused. */
  async image(repo: string, m: Manifest, ...references: string[]): Promise<void> {
    for (const b of m.blobs) await this.blob(repo, b);
    for (const ref of references.length > 0 ? references : [m.digest]) {
      const res = await this.manifest(repo, ref, m);
      expect(res.status === 201, `set-up: pushing manifest ${ref} to ${repo} failed (${res.describe()})`);
    }
  }
}
