import { linkSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { runCommand, type CommandResult } from "./command.js";
import type { DiskImage } from "./disks.js";
import type { Disposable } from "./scope.js";

/**
 * podman with all of its state in one directory: its own storage root, run root and libpod
 * tmpdir, vfs storage (works on any filesystem, no fuse-overlayfs), and the cgroupfs manager and
 * file events backend a CI shell without systemd needs.
 */
export class Podman implements Disposable {
  private readonly global: string[];
  private readonly mounted = new Set<string>();

  constructor(readonly dir: string) {
    this.global = [
      "--root", path.join(dir, "root"),
      "--runroot", path.join(dir, "run"),
      "--tmpdir", path.join(dir, "tmp"),
      "--storage-driver", "vfs",
      "--cgroup-manager", "cgroupfs",
      "--events-backend", "file",
    ];
  }

  run(...args: string[]): Promise<CommandResult> {
    return runCommand("podman", [...this.global, ...args]);
  }

  /** `docker build` of the seed workflow: `FROM scratch` + `COPY <file> /disk/<file>`. */
  async buildDiskImage(disk: DiskImage, reference: string): Promise<string> {
    const context = path.join(this.dir, `context-${disk.fileName}`);
    mkdirSync(context, { recursive: true });
    linkSync(disk.path, path.join(context, disk.fileName));
    writeFileSync(path.join(context, "Dockerfile"), `FROM scratch\nCOPY ${disk.fileName} /disk/${disk.fileName}\n`);
    const { stdout } = await this.run("build", "-q", "-t", reference, context);
    return stdout.trim();
  }

  /** Push a local image to its own name, or to `destination` (a `docker://` reference), as OCI or Docker schema2. */
  push(reference: string, options: { format?: "oci" | "docker"; destination?: string } = {}): Promise<CommandResult> {
    const format = options.format ? ["--format", options.format] : [];
    return this.run("push", "--tls-verify=false", ...format, reference, ...(options.destination ? [options.destination] : []));
  }

  pull(reference: string): Promise<CommandResult> {
    return this.run("pull", "--tls-verify=false", reference);
  }

  /** The image's root filesystem as a directory (until unmountImage). */
  async mountImage(reference: string): Promise<string> {
    const { stdout } = await this.run("image", "mount", reference);
    this.mounted.add(reference);
    return stdout.trim();
  }

  async unmountImage(reference: string): Promise<void> {
    await this.run("image", "unmount", reference);
    this.mounted.delete(reference);
  }

  async dispose(): Promise<void> {
    for (const reference of this.mounted) await this.unmountImage(reference);
  }
}
