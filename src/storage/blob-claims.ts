/**
 * Per-digest coordination between writers that put a blob file in place and collectors that
 * take one away (GC, scrub --repair), inside one process. Nothing global is locked and nothing
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
