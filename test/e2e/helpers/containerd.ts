import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, readFileSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { runCommand, type CommandResult } from "./command.js";
import { unmountAllUnder } from "./mounts.js";
import type { Disposable } from "./scope.js";

/**
 * A private containerd, pulling as kubelet does: its own root, state and socket under `dir`, the
 * CRI plugin disabled (no kubelet here), driven with `ctr`.
 */
export class Containerd implements Disposable {
  readonly socket: string;
  private readonly mounted = new Set<string>();
  private constructor(
    readonly dir: string,
    private readonly process: ChildProcess,
    private readonly logFile: string,
  ) {
    this.socket = path.join(dir, "containerd.sock");
  }

  static async start(dir: string): Promise<Containerd> {
    const config = path.join(dir, "config.toml");
    writeFileSync(
      config,
      [
        "version = 2",
        `root = "${path.join(dir, "root")}"`,
        `state = "${path.join(dir, "state")}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = "${path.join(dir, "containerd.sock")}"`,
        "",
      ].join("\n"),
    );
    const logFile = path.join(dir, "containerd.log");
    const log = openSync(logFile, "a");
    const child = spawn("containerd", ["--config", config], { stdio: ["ignore", log, log] });
    closeSync(log);
    const containerd = new Containerd(dir, child, logFile);
    try {
      await containerd.waitReady();
    } catch (err) {
      // Not yet handed to a scope: nobody else would stop it.
      await containerd.dispose();
      throw err;
    }
    return containerd;
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (this.process.exitCode !== null) throw new Error(`containerd exited: ${this.log()}`);
      try {
        await this.ctr("version");
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`containerd did not answer on ${this.socket}: ${String(err)}\n${this.log()}`);
        await sleep(100);
      }
    }
  }

  log(): string {
    return readFileSync(this.logFile, "utf8").slice(-4000);
  }

  ctr(...args: string[]): Promise<CommandResult> {
    return runCommand("ctr", ["--address", this.socket, ...args]);
  }

  pull(reference: string): Promise<CommandResult> {
    return this.ctr("images", "pull", "--plain-http", reference);
  }

  async mount(reference: string, target: string): Promise<void> {
    await this.ctr("images", "mount", reference, target);
    this.mounted.add(target);
  }

  async unmount(target: string): Promise<void> {
    await this.ctr("images", "unmount", target);
    this.mounted.delete(target);
  }

  /** Unmount what a test left mounted (through ctr, then by force), then stop containerd (SIGKILL if it lingers). */
  async dispose(): Promise<void> {
    for (const target of this.mounted) {
      await this.unmount(target).catch(() => unmountAllUnder(target));
    }
    await unmountAllUnder(this.dir);
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = once(this.process, "exit");
    this.process.kill("SIGTERM");
    const timer = setTimeout(() => this.process.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
