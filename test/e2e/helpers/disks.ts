import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, openSync, readSync, closeSync, rmSync } from "node:fs";
import path from "node:path";
import { once } from "node:events";
import { runCommand } from "./command.js";
import { sha256File } from "./digests.js";

export type DiskFormat = "qcow2" | "raw" | "vmdk" | "vdi" | "iso";
export const DISK_FORMATS: readonly DiskFormat[] = ["qcow2", "raw", "vmdk", "vdi", "iso"];

/** A real disk image file on the local filesystem and what we know about its bytes. */
export interface DiskImage {
  path: string;
  /** Base name, as it appears in the layer: `disk/<fileName>`. */
  fileName: string;
  format: DiskFormat;
  size: number;
  digest: string;
}

const EXTENSIONS: Record<DiskFormat, string> = { qcow2: "qcow2", raw: "img", vmdk: "vmdk", vdi: "vdi", iso: "iso" };

/** Write `size` random bytes: fresh content every run, so no client's blob-info cache can skip an upload. */
async function writeRandomFile(file: string, size: number): Promise<void> {
  const out = createWriteStream(file);
  for (let written = 0; written < size; ) {
    const n = Math.min(1 << 20, size - written);
    if (!out.write(randomBytes(n))) await once(out, "drain");
    written += n;
  }
  out.end();
  await once(out, "finish");
}

/**
 * Create a disk image of `format` in `dir` whose guest data is `dataBytes` of random content:
 * qemu-img converts a random raw disk to qcow2/vmdk/vdi, xorriso packs a random file into ISO 9660.
 */
export async function createDisk(dir: string, format: DiskFormat, dataBytes: number, baseName = `${format}-disk`): Promise<DiskImage> {
  mkdirSync(dir, { recursive: true });
  const fileName = `${baseName}.${EXTENSIONS[format]}`;
  const target = path.join(dir, fileName);
  const scratch = path.join(dir, `${baseName}.source`);
  if (format === "raw") {
    await writeRandomFile(target, dataBytes);
  } else if (format === "iso") {
    mkdirSync(scratch);
    await writeRandomFile(path.join(scratch, "payload.bin"), dataBytes);
    await runCommand("xorriso", ["-as", "mkisofs", "-quiet", "-V", "DVCR_E2E", "-o", target, scratch]);
  } else {
    await writeRandomFile(scratch, dataBytes);
    await runCommand("qemu-img", ["convert", "-f", "raw", "-O", format, scratch, target]);
  }
  rmSync(scratch, { recursive: true, force: true });
  const { digest, size } = await sha256File(target);
  return { path: target, fileName, format, size, digest };
}

export interface QemuImgInfo {
  format: string;
  virtualSize: number;
}

export async function qemuImgInfo(file: string): Promise<QemuImgInfo> {
  const { stdout } = await runCommand("qemu-img", ["info", "--output=json", file]);
  const info = JSON.parse(stdout) as { format: string; "virtual-size": number };
  return { format: info.format, virtualSize: info["virtual-size"] };
}

/** ISO 9660 volume descriptors carry `CD001` at byte 1 of sectors 16, 17 or 18 (2048-byte sectors). */
export function isIso9660(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const magic = Buffer.alloc(5);
    return [32769, 34817, 36865].some((offset) => readSync(fd, magic, 0, 5, offset) === 5 && magic.toString("latin1") === "CD001");
  } finally {
    closeSync(fd);
  }
}
