import { execFileSync } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import type { DiskImageLayout } from "./figures/skopeo-image.js";
import type { BlobFile } from "./http-client.js";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";

/** A file of `size` random bytes (incompressible, like the data of a real disk). */
export async function writeRandomFile(file: string, size: number): Promise<void> {
  const out = createWriteStream(file);
  const block = 4 * 1024 * 1024;
  for (let written = 0; written < size; ) {
    const n = Math.min(block, size - written);
    if (!out.write(randomFillSync(Buffer.allocUnsafe(n)))) await new Promise<void>((r) => out.once("drain", () => r()));
    written += n;
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

export async function blobFile(file: string): Promise<BlobFile> {
  return { path: file, size: statSync(file).size, digest: await sha256OfFile(file) };
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export interface ImageDocuments {
  config: Buffer;
  configDigest: string;
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
}

/** An OCI image whose single layer is `layer` (the benchmark's big blob). */
export function imageDocuments(layer: { digest: string; size: number }, diffId = layer.digest): ImageDocuments {
  const config = Buffer.from(
    JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [diffId] }, config: {} }),
  );
  const configDigest = sha256(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
      layers: [{ mediaType: OCI_LAYER_TAR, digest: layer.digest, size: layer.size }],
    }),
  );
  return { config, configDigest, manifest, manifestDigest: sha256(manifest), mediaType: OCI_MANIFEST };
}

/** sha256 and size of whatever flows through, passed on unchanged. */
class Digesting extends Transform {
  private readonly hash = createHash("sha256");
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err: null, data: Buffer) => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
  digest(): string {
    return `sha256:${this.hash.digest("hex")}`;
  }
}

/**
 * An OCI image layout (`oci:<dir>:latest` for skopeo) of a `FROM scratch` disk image: one
 * uncompressed layer holding `disk/disk.qcow2`, converted by qemu-img from `rawFile`.
 */
export async function writeDiskImageLayout(dir: string, rawFile: string): Promise<DiskImageLayout> {
  const qcow2 = path.join(dir, "..", "disk.qcow2");
  execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", rawFile, qcow2]);
  const diskSize = statSync(qcow2).size;
  mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
  writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));

  const pack = tar.pack();
  const now = new Date(0);
  pack.entry({ name: "disk", type: "directory", mode: 0o755, uid: 107, gid: 107, mtime: now });
  const entry = pack.entry({ name: "disk/disk.qcow2", type: "file", size: diskSize, mode: 0o644, uid: 107, gid: 107, mtime: now });
  const filled = pipeline(createReadStream(qcow2, { highWaterMark: 4 * 1024 * 1024 }), entry).then(() => pack.finalize());
  const digesting = new Digesting();
  const partial = path.join(dir, "layer.partial");
  await Promise.all([pipeline(pack, digesting, createWriteStream(partial)), filled]);
  const layer = { digest: digesting.digest(), size: digesting.size };
  renameSync(partial, path.join(dir, "blobs", ...layer.digest.split(":")));

  const image = imageDocuments(layer);
  writeFileSync(path.join(dir, "blobs", ...image.configDigest.split(":")), image.config);
  writeFileSync(path.join(dir, "blobs", ...image.manifestDigest.split(":")), image.manifest);
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: image.mediaType,
        digest: image.manifestDigest,
        size: image.manifest.length,
        annotations: { "org.opencontainers.image.ref.name": "latest" },
      },
    ],
  };
  writeFileSync(path.join(dir, "index.json"), JSON.stringify(index));
  return { reference: `oci:${dir}:latest`, layerBytes: layer.size, layerFile: path.join(dir, "blobs", ...layer.digest.split(":")) };
}
