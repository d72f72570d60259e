import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * Real, small filesystems for full-disk and resize tests (the tests run as root, in CI too).
 * A mount that fails throws: these tests must fail, never skip, when the machine cannot mount.
 */
export interface TestVolume {
  /** The mount point: use it as the registry's data root. */
  dir: string;
  kind: "tmpfs" | "ext4";
  /** Grow the filesystem online, while mounted and in use. */
  grow(sizeMiB: number): void;
  /** Unmount and delete everything (idempotent). */
  dispose(): void;
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** tmpfs of `sizeMiB`, grown with `mount -o remount,size=`. */
export function mountTmpfs(sizeMiB: number): TestVolume {
  const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-tmpfs-"));
  run("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", dir]);
  let mounted = true;
  return {
    dir,
    kind: "tmpfs",
    grow: (size) => run("mount", ["-o", `remount,size=${size}m`, dir]),
    dispose() {
      if (mounted) run("umount", ["-l", dir]);
      mounted = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * ext4 in a loop-mounted image file. `grow` resizes it the way a PVC is expanded (the block
 * device grows with truncate + losetup -c, then resize2fs grows the mounted filesystem); some
 * kernels refuse online ext4 resize to a container, and then `grow` throws.
 */
export function mountLoopExt4(sizeMiB: number): TestVolume {
  const work = mkdtempSync(path.join(os.tmpdir(), "dvcr-ext4-"));
  const image = path.join(work, "volume.img");
  const dir = path.join(work, "mnt");
  run("mkdir", [dir]);
  run("truncate", ["-s", `${sizeMiB}M`, image]);
  // No reserved root blocks: dvcr runs as root in the tests and its own reserve is what we test.
  run("mkfs.ext4", ["-q", "-F", "-m", "0", image]);
  const device = run("losetup", ["--find", "--show", image]);
  let attached = true;
  let mounted = false;
  const cleanup = () => {
    if (mounted) run("umount", ["-l", dir]);
    mounted = false;
    if (attached) run("losetup", ["-d", device]);
    attached = false;
    rmSync(work, { recursive: true, force: true });
  };
  try {
    run("mount", [device, dir]);
    mounted = true;
  } catch (err) {
    cleanup();
    throw err;
  }
  return {
    dir,
    kind: "ext4",
    grow(size) {
      run("truncate", ["-s", `${size}M`, image]);
      run("losetup", ["-c", device]);
      run("resize2fs", [device]);
    },
    dispose: cleanup,
  };
}
