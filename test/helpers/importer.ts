import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync } from "node:fs";
import path from "node:path";
import { after, before } from "node:test";
import { MediaType } from "../../src/oci/index.js";
import { startTestServer, tempDir, type TestServer } from "./server.js";
import { createDisk, qemuImgInfo, type DiskFormat, type DiskImage } from "../e2e/helpers/disks.js";
import { fetchBlob, pullDiskOverHttp, type PulledDisk } from "../e2e/helpers/registry-http.js";

export { createDisk, type DiskFormat, type DiskImage };

/** A source file as a user publishes it: a disk, optionally gz or xz compressed (xz in blocks, as `xz -T0` writes). */
export interface PublishedDisk {
  disk: DiskImage;
  /** The file served (the disk itself, or disk.gz / disk.xz). */
  file: string;
  fileName: string;
  compression: "none" | "gzip" | "xz";
  /** sha256 hex of the file as served (what a user's checksum is). */
  sha256: string;
  md5: string;
}

function hashFile(file: string, algorithm: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash(algorithm);
    createReadStream(file)
      .on("data", (d) => hash.update(d))
      .on("end", () => resolve(hash.digest("hex")))
      .on("error", reject);
  });
}

export async function publishDisk(dir: string, format: DiskFormat, dataBytes: number, compression: PublishedDisk["compression"] = "none", baseName?: string): Promise<PublishedDisk> {
  mkdirSync(dir, { recursive: true });
  const disk = await createDisk(dir, format, dataBytes, baseName);
  let file = disk.path;
  if (compression === "gzip") {
    execFileSync("gzip", ["-k", "-f", "-1", disk.path]);
    file = `${disk.path}.gz`;
  } else if (compression === "xz") {
    // A small block size: several blocks even for a test-sized disk, as multi-threaded xz writes them.
    execFileSync("xz", ["-k", "-f", "-0", "-T2", "--block-size=1MiB", disk.path]);
    file = `${disk.path}.xz`;
  }
  return { disk, file, fileName: path.basename(file), compression, sha256: await hashFile(file, "sha256"), md5: await hashFile(file, "md5") };
}

/** One qcow2 published twice, as it is and xz-compressed (different random guest data in each). */
export async function publishPlainAndXz(dir: string, dataBytes: number): Promise<{ qcow2: PublishedDisk; xz: PublishedDisk }> {
  return { qcow2: await publishDisk(path.join(dir, "plain"), "qcow2", dataBytes), xz: await publishDisk(path.join(dir, "xz"), "qcow2", dataBytes, "xz") };
}

export interface DiskFixture {
  registry: TestServer;
  work: string;
  qcow2: PublishedDisk;
  xz: PublishedDisk;
}

/** For a test file: a registry and a qcow2 plain and xz-compressed, made before its tests, the registry disposed after. */
export function diskFixture(prefix: string, dataBytes: number): DiskFixture {
  const fixture = {} as DiskFixture;
  before(async () => {
    fixture.registry = await startTestServer();
    fixture.work = tempDir(prefix);
    Object.assign(fixture, await publishPlainAndXz(fixture.work, dataBytes));
  });
  after(() => fixture.registry.dispose());
  return fixture;
}

/** What qemu-img says about the disk, as DVCR's importer labels it (ISO told apart from raw). */
export async function expectedLabels(disk: DiskImage): Promise<Record<string, string>> {
  const info = await qemuImgInfo(disk.path);
  return {
    "erofs-compatible-layers": "true",
    "source-image-size": String(disk.size),
    "source-image-virtual-size": String(disk.format === "iso" ? disk.size : info.virtualSize),
    "source-image-format": disk.format,
  };
}

export interface PulledImage extends PulledDisk {
  labels: Record<string, string>;
  config: { rootfs: { diff_ids: string[] }; config: { Labels: Record<string, string> } };
}

/** Pull the image as a disk importer does: manifest, config, and the disk hashed out of the layer stream. */
export async function pullImage(base: string, repository: string, reference = "latest"): Promise<PulledImage> {
  const pulled = await pullDiskOverHttp(base, repository, reference);
  const config = JSON.parse((await fetchBlob(base, repository, pulled.manifest.manifest.config.digest)).toString("utf8"));
  return { ...pulled, config, labels: config.config.Labels };
}

export async function manifestStatus(base: string, repository: string, tag = "latest"): Promise<number> {
  const res = await fetch(`${base}/v2/${repository}/manifests/${tag}`, { method: "HEAD", headers: { Accept: [MediaType.DockerManifest, MediaType.OciManifest].join(", ") } });
  return res.status;
}

/** Upload sessions the registry still holds (none may survive a failed import). */
export async function uploadSessions(base: string): Promise<number> {
  const res = await fetch(`${base}/api/v1/storage`);
  return ((await res.json()) as { uploadSessions: number }).uploadSessions;
}

/** Fast clocks for tests: retries in milliseconds, a stall in a fraction of a second. */
export const FAST = { retryBaseMs: 20, retryMaxDelayMs: 200, maxTries: 5, stallTimeoutMs: 1500 };
