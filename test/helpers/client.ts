import { createHash, randomBytes } from "node:crypto";
import http from "node:http";

/** A tiny Distribution-spec client for tests: raw fetch, nothing hidden. */

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function randomBlob(size: number): { data: Buffer; digest: string } {
  const data = randomBytes(size);
  return { data, digest: sha256(data) };
}

export async function errorCodes(res: Response): Promise<string[]> {
  const body = (await res.json()) as { errors?: { code: string; message: string }[] };
  if (!Array.isArray(body.errors)) throw new Error(`not a spec error body: ${JSON.stringify(body)}`);
  for (const e of body.errors) {
    if (typeof e.code !== "string" || typeof e.message !== "string") throw new Error(`bad error entry ${JSON.stringify(e)}`);
  }
  return body.errors.map((e) => e.code);
}

export type TestRequestInit = Omit<RequestInit, "body"> & { body?: BodyInit | Buffer | Uint8Array | null };

export class TestClient {
  constructor(readonly base: string) {}

  url(path: string): string {
    return path.startsWith("http") ? path : `${this.base}${path}`;
  }

  fetch(path: string, init: TestRequestInit = {}): Promise<Response> {
    const body = init.body;
    const streaming = body && typeof (body as ReadableStream).getReader === "function";
    return fetch(this.url(path), { ...init, ...(streaming ? { duplex: "half" } : {}) } as RequestInit);
  }

  async startUpload(repo: string): Promise<string> {
    const res = await this.fetch(`/v2/${repo}/blobs/uploads/`, { method: "POST" });
    if (res.status !== 202) throw new Error(`POST upload: ${res.status} ${await res.text()}`);
    return res.headers.get("location")!;
  }

  /** POST + PUT monolithic upload. */
  async pushBlob(repo: string, data: Buffer): Promise<string> {
    const digest = sha256(data);
    const location = await this.startUpload(repo);
    const sep = location.includes("?") ? "&" : "?";
    const res = await this.fetch(`${location}${sep}digest=${digest}`, {
      method: "PUT",
      body: data,
      headers: { "Content-Type": "application/octet-stream" },
    });
    if (res.status !== 201) throw new Error(`PUT blob: ${res.status} ${await res.text()}`);
    return digest;
  }

  async pushManifest(repo: string, reference: string, manifest: unknown, mediaType?: string): Promise<Response> {
    const body = typeof manifest === "string" ? manifest : JSON.stringify(manifest);
    const type = mediaType ?? (manifest as { mediaType?: string }).mediaType ?? "application/vnd.oci.image.manifest.v1+json";
    return this.fetch(`/v2/${repo}/manifests/${reference}`, { method: "PUT", body, headers: { "Content-Type": type } });
  }

  /** Push a one-layer image (config + layer) and tag it; returns the manifest and digests. */
  async pushImage(repo: string, tag: string, layer: Buffer = randomBytes(1024), opts: { mediaType?: string; subject?: unknown; artifactType?: string } = {}) {
    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
    const configDigest = await this.pushBlob(repo, config);
    const layerDigest = await this.pushBlob(repo, layer);
    const docker = opts.mediaType === "application/vnd.docker.distribution.manifest.v2+json";
    const manifest: Record<string, unknown> = {
      schemaVersion: 2,
      mediaType: opts.mediaType ?? "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
      layers: [{ mediaType: docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length }],
    };
    if (opts.subject) manifest.subject = opts.subject;
    if (opts.artifactType) manifest.artifactType = opts.artifactType;
    const body = JSON.stringify(manifest);
    const res = await this.pushManifest(repo, tag, body, manifest.mediaType as string);
    if (res.status !== 201) throw new Error(`PUT manifest: ${res.status} ${await res.text()}`);
    return { manifest, body, digest: sha256(body), configDigest, layerDigest, size: Buffer.byteLength(body) };
  }
}

/** An HTTP request sent exactly as written: no URL normalisation (fetch resolves `%2E%2E`). */
export function rawRequest(base: string, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers: body ? { "Content-Length": Buffer.byteLength(body) } : {} }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}
