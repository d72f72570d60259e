/**
 * SINGLE-PROCESS COORDINATION — everything dvcr coordinates in the memory of one process, in
 * one place, and why that is correct today.
 *
 * One process owns a data root at a time: the root lock (meta/sqlite/root-lock.ts, an
 * exclusive lock on <root>/dvcr.lock that the kernel drops when the process dies) refuses a
 * second server or an offline `dvcr gc` beside a running one. Within that process:
 *
 * - BlobClaims (below): an upload committing a digest vs GC or scrub removing it.
 * - UploadWriters (below): at most one request streams into an upload session, and GC's upload
 *   purge never takes a session a request is writing to.
 * - The running sha256 state of each upload (storage/fs/upload-files.ts): only a cache; a
 *   session whose state is not in memory is re-hashed from its bytes, so it is correct in any
 *   process, just slower the first time.
 * - Schedules (tasks/): every process that serves runs the GC and scrub crons.
 * - The disk indexer's queues (index/): lost work is found again by a database scan.
 * - Watch notifications of the Kubernetes-style objects (meta.objects.subscribe) and the
 *   ClusterVirtualImage controller's work queue (cvi/): a watch resumes from the change log in
 *   the database, and the controller re-reads every object at start.
 *
 * What several replicas over one shared backend (object storage + PostgreSQL) would need
 * instead, all in the metadata backend with an expiry so a dead replica's hold lapses:
 * - blob claims and removals as lease rows per digest (`blob_leases(digest, holder, kind,
 *   expires_at)`): an upload takes a commit lease, GC a removal lease, each refused while the
 *   other's is live; GC re-checks the row in the same transaction as now;
 * - an upload-session writer lease (`uploads.writer`, `uploads.lease_until`) taken by PATCH/PUT
 *   and renewed per block, which the purge respects;
 * - the running hash either pinned to the replica holding the session (sticky routing) or
 *   re-hashed on takeover (as after a restart today);
 * - a scheduler lease per task (`task_leases(name, holder, expires_at)`) so that one replica runs
 *   each scheduled GC or scrub, and an indexer job lease per manifest digest;
 * - object change notifications carried by the backend (PostgreSQL LISTEN/NOTIFY on the
 *   change log's inserts) and a controller lease (one replica provisions ClusterVirtualImages);
 * - and the root lock dropped (it guards a local volume only).
 */

/**
 * Per-digest coordination between writers that put a blob in place and collectors that take
 * one away (GC, scrub --repair), inside one process. Nothing global is locked and nothing
 * is held across a client's I/O: an upload claims its digest only from the rename into
 * blobs/ until its row is committed, and a collector holds a digest only while unlinking it.
 *
 * Why it is needed: both sides act on the same path. Without it, GC could delete a row,
 * an upload could rename fresh bytes into place, and GC's unlink would then remove the fresh
 * file while the upload commits a row for it — a row without bytes.
 */
export class BlobClaims {
  /** Digests between rename and commit, with how many uploads hold each. */
  private readonly claimed = new Map<string, number>();
  /** Digests being removed by a collector; settles when the file is gone. */
  private readonly removing = new Map<string, Promise<void>>();

  /**
   * Claim `digest` for putting its file in place. Waits while a collector is removing it (so the
   * new file lands after the unlink), then returns the release function.
   */
  async claim(digest: string): Promise<() => void> {
    for (let pending = this.removing.get(digest); pending; pending = this.removing.get(digest)) await pending;
    this.claimed.set(digest, (this.claimed.get(digest) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.claimed.get(digest) ?? 1) - 1;
      if (n === 0) this.claimed.delete(digest);
      else this.claimed.set(digest, n);
    };
  }

  isClaimed(digest: string): boolean {
    return this.claimed.has(digest);
  }

  /**
   * Start removing `digest` unless an upload holds it. Synchronous, so the caller checks and
   * commits its metadata change in the same tick; returns the function that ends the removal
   * (call it after the file is gone), or null when the digest is claimed.
   */
  beginRemoval(digest: string): (() => void) | null {
    if (this.claimed.has(digest) || this.removing.has(digest)) return null;
    let finish!: () => void;
    this.removing.set(digest, new Promise<void>((resolve) => (finish = resolve)));
    return () => {
      this.removing.delete(digest);
      finish();
    };
  }
}

/**
 * Upload sessions with a request writing to them. `take` and the check are one synchronous
 * step, so a second writer and GC's purge (which takes a session the same way) are refused
 * rather than interleaved.
 */
export class UploadWriters {
  private readonly busy = new Set<string>();

  /** Take the session for one writer; false when someone already holds it. */
  take(uploadId: string): boolean {
    if (this.busy.has(uploadId)) return false;
    this.busy.add(uploadId);
    return true;
  }

  release(uploadId: string): void {
    this.busy.delete(uploadId);
  }
}
