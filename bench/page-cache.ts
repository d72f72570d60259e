import { execFileSync } from "node:child_process";
import { accessSync, constants, createReadStream } from "node:fs";

const DROP_CACHES = "/proc/sys/vm/drop_caches";

/** Whether this process may drop the kernel's page cache (root, and /proc/sys writable). */
export function canDropPageCache(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    accessSync(DROP_CACHES, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Write back dirty pages and drop the clean ones. Page-cache state alone moves push times by a
 * third on these machines (dirty pages of the previous run being written back meanwhile), so
 * every timed transfer of the big blob starts from the same state.
 */
export function dropPageCache(): void {
  execFileSync("sync");
  execFileSync("sh", ["-c", `echo 3 > ${DROP_CACHES}`]);
}

/** Read a file once so that a push's source comes from memory, not from the disk under test. */
export async function warm(file: string): Promise<void> {
  for await (const _chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) {
    // reading is the point
  }
}

/** What a phase does before a timed transfer: a clean slate when possible, the source file in memory. */
export class CachePolicy {
  constructor(readonly drop: boolean) {}

  async reset(sources: string[] = []): Promise<void> {
    if (this.drop) dropPageCache();
    for (const file of sources) await warm(file);
  }
}
