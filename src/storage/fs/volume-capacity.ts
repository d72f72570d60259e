import { promises as fs } from "node:fs";
import { storageFullError, type ReservePolicy, type StorageCapacity, type VolumeStats } from "../capacity.js";
import type { RegistryError } from "../../oci/index.js";

/** How long a statfs sample is trusted; a grown volume is therefore seen within this time. */
const DEFAULT_MAX_AGE_MS = 1000;

/**
 * The volume under the data root, read with statfs. Samples are reused for at most a second
 * (upload streams check every 1 MiB block); bytes we write between samples are subtracted, so
 * concurrent uploads cannot all spend the same free space. A refusal is always decided on a fresh
 * statfs, so a PVC expanded online is used at once, without restart.
 */
export class VolumeCapacity implements StorageCapacity {
  private sample: { at: number; capacity: number; used: number; free: number } | undefined;
  private writtenSinceSample = 0;
  private sampling: Promise<void> | undefined;

  constructor(
    private readonly root: string,
    private readonly policy: ReservePolicy,
    private readonly maxAgeMs = DEFAULT_MAX_AGE_MS,
  ) {}

  reserveFor(capacityBytes: number): number {
    return Math.max(this.policy.bytes, Math.ceil((capacityBytes * this.policy.percent) / 100));
  }

  /** Current figures (a fresh statfs when the sample is older than maxAgeMs). */
  async stats(): Promise<VolumeStats> {
    if (!this.sample || Date.now() - this.sample.at > this.maxAgeMs) await this.refresh();
    const s = this.sample!;
    return {
      capacityBytes: s.capacity,
      usedBytes: s.used + this.writtenSinceSample,
      freeBytes: Math.max(0, s.free - this.writtenSinceSample),
      reserveBytes: this.reserveFor(s.capacity),
    };
  }

  /** Forget the sample (after GC freed space, or in tests that resize the volume). */
  invalidate(): void {
    this.sample = undefined;
  }

  /**
   * Refuse with 507 unless `bytes` more can be written without eating into the reserve.
   * A request's first check (`live`: a session starting, a declared size) reads statfs afresh;
   * the checks before every 1 MiB block of a stream use the sample. `declared` puts the size in
   * the message.
   */
  async ensureRoom(bytes: number, opts: { live?: boolean; declared?: boolean } = {}): Promise<void> {
    const fits = (s: VolumeStats) => s.freeBytes - bytes >= s.reserveBytes;
    if (!opts.live && fits(await this.stats())) return;
    // Never refuse on a cached sample: the volume may have just grown (or GC freed space).
    this.invalidate();
    const live = await this.stats();
    if (!fits(live)) throw storageFullError(live, opts.declared ? bytes : 0);
  }

  /** Account for bytes just written so the cached sample stays honest until the next statfs. */
  noteWritten(bytes: number): void {
    this.writtenSinceSample += bytes;
  }

  /** Turn the kernel's ENOSPC/EDQUOT into the same 507 our own check gives, with live figures. */
  async fullError(needed = 0): Promise<RegistryError> {
    this.invalidate();
    return storageFullError(await this.stats(), needed);
  }

  private async refresh(): Promise<void> {
    // Concurrent blocks waiting on an expired sample share one statfs call.
    this.sampling ??= fs
      .statfs(this.root)
      .then((st) => {
        this.sample = {
          at: Date.now(),
          capacity: st.blocks * st.bsize,
          used: (st.blocks - st.bfree) * st.bsize,
          free: st.bavail * st.bsize,
        };
        this.writtenSinceSample = 0;
      })
      .finally(() => (this.sampling = undefined));
    await this.sampling;
  }
}

