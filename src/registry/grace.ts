import type { Clock } from "../config/clock.js";

/**
 * A client that finds a blob (HEAD) or a child manifest already stored does not upload it again;
 * it references it from the manifest it pushes next. Had that object been unreferenced for longer
 * than the GC grace period, an online GC could delete it in between and the manifest PUT would
 * fail. So a lookup restarts the object's grace clock, as pushing the same bytes would.
 *
 * At most once a minute per object, so that the hot read path stays read-only; and best effort:
 * a volume too full for SQLite to write must still serve reads.
 */
export const GRACE_REFRESH_AFTER_MS = 60_000;

export async function refreshGrace(clock: Clock, graceSince: number, touch: () => Promise<void>): Promise<void> {
  if (clock.now() - graceSince < GRACE_REFRESH_AFTER_MS) return;
  try {
    await touch();
  } catch {
    // Not refreshed: the object keeps its older clock, which is what it had before the read.
  }
}
