import { readFileSync, unwatchFile, watchFile, type Stats } from "node:fs";

export interface WatchOptions {
  /** How often the files are stat'ed (ms). */
  intervalMs: number;
  /** A reload failed (unreadable file, bad content): the previous value stays in force. */
  onError?: (err: Error, paths: readonly string[]) => void;
  /** A changed set of files was loaded and is now in force. */
  onReload?: (paths: readonly string[]) => void;
}

/**
 * Files whose parsed content is reloaded when any of them changes: passwords, keys, htpasswd,
 * the TLS pair. Change detection is stat polling (fs.watchFile compares inode, size and mtime):
 * unlike inotify it also sees Kubernetes Secret updates, which swap a symlink above the file.
 * A reload that fails keeps the last good value — a half-rotated cert/key pair or an htpasswd
 * caught mid-write must never lock everyone out — and is retried at the next change.
 */
export class WatchedFiles<T> {
  private current: T;
  private readonly listener: (curr: Stats, prev: Stats) => void;

  constructor(
    readonly paths: readonly string[],
    private readonly parse: (contents: Buffer[]) => T,
    private readonly options: WatchOptions,
  ) {
    // The first load is allowed to throw: a registry must not start with a missing secret.
    this.current = this.load();
    this.listener = () => this.reload();
    for (const p of paths) watchFile(p, { interval: options.intervalMs, persistent: false }, this.listener);
  }

  get value(): T {
    return this.current;
  }

  /** Re-read now (also what the watcher calls). */
  reload(): void {
    try {
      this.current = this.load();
      this.options.onReload?.(this.paths);
    } catch (err) {
      this.options.onError?.(err as Error, this.paths);
    }
  }

  close(): void {
    for (const p of this.paths) unwatchFile(p, this.listener);
  }

  private load(): T {
    // Small files (keys, passwords, htpasswd) read synchronously so one value is always whole.
    return this.parse(this.paths.map((p) => readFileSync(p)));
  }
}

/** A secret held in a file (a Kubernetes Secret key): its text without the trailing newline. */
export function secretText(contents: Buffer[]): string {
  const text = contents[0]!.toString("utf8").replace(/\r?\n$/, "");
  if (text.length === 0) throw new Error("the file is empty");
  return text;
}
