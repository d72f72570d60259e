import { readFileSync } from "node:fs";
import path from "node:path";
import { runCommand } from "./command.js";

/** Mount points at or under `dir`, deepest first (from /proc/self/mountinfo, octal escapes decoded). */
export function mountsUnder(dir: string): string[] {
  const root = path.resolve(dir);
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === root || p.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
}

/** Last line of cleanup: nothing a client mounted may outlive a test, or `rm -rf` would cross into it. */
export async function unmountAllUnder(dir: string): Promise<void> {
  for (const mountPoint of mountsUnder(dir)) {
    await runCommand("umount", [mountPoint]).catch(() => runCommand("umount", ["-l", mountPoint]));
  }
}
