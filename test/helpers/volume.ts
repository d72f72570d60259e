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
  kind: "tmpfs" | "ext4" | "xfs";
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

type LoopFilesystem = "ext4" | "xfs";

const MKFS: Record<LoopFilesystem, string[]> = {
  // No reserved root blocks: dvcr runs as root in the tests and its own reserve is what we test.
  ext4: ["mkfs.ext4", "-q", "-F", "-m", "0"],
  xfs: ["mkfs.xfs", "-q", "-f"],
};

/**
 * A filesystem in a loop-mounted image file, grown the way a PVC is expanded: the block device
 * grows (truncate + losetup -c), then the mounted filesystem grows online (xfs_growfs, or
 * resize2fs for ext4).
 *
 * Online ext4 growth needs CAP_SYS_RESOURCE, which this machine's capability bounding set lacks
 * even for root ("Permission denied to resize filesystem"): there ext4's `grow` throws. XFS
 * grows with CAP_SYS_ADMIN and works. XFS needs at least 300 MiB.
 */
export function mountLoop(fs: LoopFilesystem, sizeMiB: number): TestVolume {
  const work = mkdtempSync(path.join(os.tmpdir(), `dvcr-${fs}-`));
  const image = path.join(work, "volume.img");
  const dir = path.join(work, "mnt");
  run("mkdir", [dir]);
  run("truncate", ["-s", `${sizeMiB}M`, image]);
  const [mkfs, ...mkfsArgs] = MKFS[fs];
  run(mkfs!, [...mkfsArgs, image]);
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
    kind: fs,
    grow(size) {
      run("truncate", ["-s", `${size}M`, image]);
      run("losetup", ["-c", device]);
      if (fs === "xfs") run("xfs_growfs", [dir]);
      else run("resize2fs", [device]);
    },
    dispose: cleanup,
  };
}

export function mountLoopExt4(sizeMiB: number): TestVolume {
  return mountLoop("ext4", sizeMiB);
}
