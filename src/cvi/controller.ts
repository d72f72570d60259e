import type { Logger } from "pino";
import { isImportError, type ImportProgress, type ImportResult } from "../importer/index.js";
import { StoreConflict, type KubeObject } from "../kube/object-store.js";
import type { ResourceApi } from "../kube/resource.js";
import { KubeError, isKubeError } from "../kube/status.js";
import { cviRepository, CVI_FINALIZER, CVI_TAG } from "./names.js";
import type { CviRegistryPort, CviSettings, ImportRunner } from "./ports.js";
import { checksumsOf, resolveSource, SourceProblem } from "./sources.js";
import { formatProgress, progressValue, PROGRESS_DONE, readyCondition, sizeOf, speedOf, withCondition, type ReadyReason } from "./status.js";
import type { ClusterVirtualImage, CviPhase, CviStatus } from "./types.js";
import { newUploadToken, UploadSessions, type UploadTarget } from "./uploads.js";

/** Work in flight for one generation of one image (an import, or a session waiting for an upload). */
interface Job {
  uid: string;
  generation: number;
  abort: AbortController;
  done: Promise<void>;
  /** Upload images: the token of their URL. */
  token?: string;
  timer?: NodeJS.Timeout;
}

/** How long a source that is not there yet (a secret, a referenced image) waits before it is looked at again. */
const SOURCE_RETRY_MS = 10_000;

function statusOf(o: KubeObject): CviStatus {
  return (o.status ?? {}) as CviStatus;
}

/**
 * The ClusterVirtualImage lifecycle: Pending → (WaitForUserUpload →) Provisioning → Ready, or
 * Failed; Terminating on delete; ImageLost when the stored image goes. It reacts to every
 * committed change of a CVI (one reconcile at a time per image), keeps its status the way DVCR's
 * controller does, and after a restart resumes what was in flight.
 */
export class CviController {
  private readonly jobs = new Map<string, Job>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private unsubscribe?: () => void;
  private lostTimer?: NodeJS.Timeout;
  private lostSoon?: NodeJS.Timeout;
  private stopped = false;
  readonly uploads: UploadSessions;

  constructor(
    private readonly api: ResourceApi,
    private readonly runImport: ImportRunner,
    private readonly registry: CviRegistryPort,
    private readonly settings: CviSettings,
    private readonly logger: Logger,
  ) {
    this.uploads = new UploadSessions(runImport, settings.stagingDir, this.uploadEvents(), logger);
  }

  async start(): Promise<void> {
    this.unsubscribe = this.api.store.subscribe((change) => {
      if (change.resource !== this.api.key) return;
      this.enqueue(change.object.metadata.name);
      // Images waiting on this one (ObjectRef) look again when it changes.
      for (const name of this.dependentsOf(change.object.metadata.name)) this.enqueue(name);
    });
    const { items } = await this.api.store.list(this.api.key);
    for (const o of items) this.enqueue(o.metadata.name);
    this.lostTimer = setInterval(() => this.checkLostSoon(), this.settings.lostCheckIntervalMs);
    this.lostTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.lostTimer) clearInterval(this.lostTimer);
    if (this.lostSoon) clearTimeout(this.lostSoon);
    for (const t of this.retries.values()) clearTimeout(t);
    const jobs = [...this.jobs.values()];
    for (const job of jobs) {
      job.abort.abort();
      if (job.timer) clearTimeout(job.timer);
    }
    await Promise.allSettled([...jobs.map((j) => j.done), ...this.running.values()]);
  }

  /** Settle when every queued reconcile is done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  private readonly waitingOn = new Map<string, Set<string>>();

  private dependentsOf(name: string): string[] {
    return [...(this.waitingOn.get(name) ?? [])];
  }

  private enqueue(name: string): void {
    if (this.stopped) return;
    if (this.running.has(name)) {
      this.again.add(name);
      return;
    }
    const run = (async () => {
      do {
        this.again.delete(name);
        try {
          await this.reconcile(name);
        } catch (err) {
          this.logger.error({ err, image: name }, "cvi: reconcile failed; retrying");
          this.retryLater(name);
        }
      } while (this.again.has(name) && !this.stopped);
    })().finally(() => this.running.delete(name));
    this.running.set(name, run);
  }

  private retryLater(name: string, ms = SOURCE_RETRY_MS): void {
    if (this.retries.has(name) || this.stopped) return;
    const t = setTimeout(() => {
      this.retries.delete(name);
      this.enqueue(name);
    }, ms);
    t.unref();
    this.retries.set(name, t);
  }

  private async read(name: string): Promise<ClusterVirtualImage | undefined> {
    return (await this.api.store.get(this.api.key, name)) as ClusterVirtualImage | undefined;
  }

  private async reconcile(name: string): Promise<void> {
    const cvi = await this.read(name);
    let job = this.jobs.get(name);
    if (!cvi) {
      if (job) await this.cancel(name, job);
      return;
    }
    if (cvi.metadata.deletionTimestamp) return this.finalize(cvi);
    const generation = cvi.metadata.generation;
    const s = statusOf(cvi);
    if (job && (job.uid !== cvi.metadata.uid || job.generation !== generation)) {
      await this.cancel(name, job); // the spec changed before Ready: provisioning starts over
      job = undefined;
    }
    if (job) return;
    const current = s.observedGeneration === generation;
    if (current && (s.phase === "Ready" || s.phase === "Failed" || s.phase === "ImageLost")) return;
    if (cvi.spec.dataSource.type === "Upload") return this.awaitUpload(cvi);
    return this.provision(cvi);
  }

  // ---- status ------------------------------------------------------------------------------

  /**
   * Write the status of the image as it is now, if it still is the same image at the same
   * generation (a status computed for an old spec is dropped). Retried on concurrent writes.
   */
  private async writeStatus(name: string, uid: string, generation: number, next: (s: CviStatus) => CviStatus | undefined): Promise<boolean> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const cvi = await this.read(name);
      if (!cvi || cvi.metadata.uid !== uid || (generation >= 0 && cvi.metadata.generation !== generation)) return false;
      const status = next(structuredClone(statusOf(cvi)));
      if (!status) return false;
      try {
        await this.api.replace(name, { ...cvi, status }, "status");
        return true;
      } catch (err) {
        if (isKubeError(err) && err.reason === "NotFound") return false;
        if (!(isKubeError(err) && err.reason === "Conflict") && !(err instanceof StoreConflict)) throw err;
      }
    }
    return false;
  }

  private base(cvi: ClusterVirtualImage, s: CviStatus, phase: CviPhase, reason: ReadyReason, message: string): CviStatus {
    const generation = cvi.metadata.generation;
    return {
      ...s,
      phase,
      observedGeneration: generation,
      target: { registryURL: `${this.settings.registryHost}/${cviRepository(cvi.metadata.name)}:${CVI_TAG}` },
      conditions: readyCondition(s, phase, reason, message, generation),
    };
  }

  // ---- provisioning from a source ----------------------------------------------------------

  private provision(cvi: ClusterVirtualImage): void {
    const name = cvi.metadata.name;
    const { uid, generation } = cvi.metadata;
    const abort = new AbortController();
    const job: Job = { uid, generation, abort, done: Promise.resolve() };
    this.jobs.set(name, job);
    job.done = this.runProvisioning(cvi, abort.signal)
      .catch((err) => this.logger.error({ err, image: name }, "cvi: provisioning crashed"))
      .finally(() => {
        if (this.jobs.get(name) === job) this.jobs.delete(name);
      });
  }

  private async runProvisioning(cvi: ClusterVirtualImage, signal: AbortSignal): Promise<void> {
    const name = cvi.metadata.name;
    const { uid, generation } = cvi.metadata;
    const resumed = statusOf(cvi).observedGeneration === generation && statusOf(cvi).phase === "Provisioning";
    let resolved;
    try {
      resolved = await resolveSource(cvi, this.settings.secretsDir, (n) => this.read(n));
      this.forgetDependency(name);
    } catch (err) {
      if (!(err instanceof SourceProblem)) throw err;
      if (err.waiting) {
        if (cvi.spec.dataSource.objectRef) this.dependOn(name, cvi.spec.dataSource.objectRef.name);
        this.retryLater(name);
      }
      const phase: CviPhase = err.waiting ? "Pending" : "Failed";
      await this.writeStatus(name, uid, generation, (s) => ({
        ...this.base(cvi, s, phase, err.waiting ? "ProvisioningNotStarted" : "ProvisioningFailed", err.message),
        conditions: withCondition(
          this.base(cvi, s, phase, err.waiting ? "ProvisioningNotStarted" : "ProvisioningFailed", err.message).conditions,
          "DatasourceReady",
          "False",
          err.reason,
          err.message,
          generation,
        ),
      }));
      return;
    }
    if (signal.aborted) return;
    let best = resumed ? progressValue(statusOf(cvi).progress) : 0;
    await this.writeStatus(name, uid, generation, (s) => ({
      ...this.base(cvi, resumed ? s : freshStatus(s), "Provisioning", "Provisioning", "the image is being imported into the registry"),
      progress: formatProgress(best),
      conditions: withCondition(
        readyCondition(s, "Provisioning", "Provisioning", "the image is being imported into the registry", generation),
        "DatasourceReady",
        "True",
        "DatasourceReady",
        "the data source is ready to be imported",
        generation,
      ),
    }));
    const progress = this.progressWriter(name, uid, generation, () => best);
    try {
      const result = await this.runImport({
        source: resolved.source,
        destination: await this.registry.destination(cviRepository(name), CVI_TAG, resolved.reads),
        checksums: checksumsOf(cvi.spec.dataSource.http?.checksum),
        signal,
        onProgress: (p) => {
          best = Math.max(best, percentOf(p));
          progress.speed = p;
        },
      });
      progress.stop();
      if (!signal.aborted) await this.markReady(cvi, result);
    } catch (err) {
      progress.stop();
      if (signal.aborted) return;
      await this.markFailed(cvi, err);
    }
  }

  /** Progress and speed, written every progressInterval while it changes (never decreasing). */
  private progressWriter(name: string, uid: string, generation: number, percent: () => number) {
    let written = "";
    let busy = false;
    const state = { speed: undefined as ImportProgress | undefined, stop: () => clearInterval(timer) };
    const timer = setInterval(() => {
      const progress = formatProgress(percent());
      if (busy || (progress === written && !state.speed)) return;
      busy = true;
      const speed = state.speed;
      state.speed = undefined;
      void this.writeStatus(name, uid, generation, (s) => {
        if (s.phase !== "Provisioning") return undefined;
        const value = Math.max(progressValue(s.progress), progressValue(progress));
        return { ...s, progress: formatProgress(value), ...(speed ? { downloadSpeed: speedOf(speed.averageSpeed, speed.currentSpeed) } : {}) };
      })
        .then(() => (written = progress))
        .catch((err) => this.logger.warn({ err, image: name }, "cvi: could not write progress"))
        .finally(() => (busy = false));
    }, this.settings.progressIntervalMs);
    timer.unref();
    return state;
  }

  private async markReady(cvi: ClusterVirtualImage, result: ImportResult): Promise<void> {
    const { uid, generation, name } = cvi.metadata;
    await this.writeStatus(name, uid, generation, (s) => ({
      ...this.base(cvi, withoutUploadURLs(s), "Ready", "Ready", "the image is stored in the registry and ready to use"),
      progress: PROGRESS_DONE,
      format: result.sourceImageFormat,
      cdrom: result.cdrom,
      size: sizeOf(result.storedBytes, result.unpackedBytes),
      downloadSpeed: speedOf(result.averageSpeed, 0),
      conditions: withCondition(
        readyCondition(s, "Ready", "Ready", "the image is stored in the registry and ready to use", generation),
        "DatasourceReady",
        "True",
        "DatasourceReady",
        "the data source was imported",
        generation,
      ),
    }));
    this.logger.info({ image: name, format: result.sourceImageFormat, storedBytes: result.storedBytes, ms: result.durationMs }, "cvi: image ready");
  }

  private async markFailed(cvi: ClusterVirtualImage, err: unknown): Promise<void> {
    const { uid, generation, name } = cvi.metadata;
    const message = failureMessage(err);
    this.logger.info({ image: name, kind: isImportError(err) ? err.kind : "unknown", message }, "cvi: provisioning failed");
    await this.writeStatus(name, uid, generation, (s) => ({ ...this.base(cvi, s, "Failed", "ProvisioningFailed", message) }));
  }

  // ---- uploads -----------------------------------------------------------------------------

  private uploadURLs(token: string) {
    const join = (base: string) => `${base.replace(/\/+$/, "")}/${token}`;
    return { external: join(this.settings.uploadURL.external), inCluster: join(this.settings.uploadURL.inCluster) };
  }

  private async awaitUpload(cvi: ClusterVirtualImage): Promise<void> {
    const name = cvi.metadata.name;
    const { uid, generation } = cvi.metadata;
    const s = statusOf(cvi);
    // The same generation keeps its URL across restarts; a new one gets a new token.
    const kept = s.observedGeneration === generation ? s.imageUploadURLs?.external.split("/").pop() : undefined;
    const token = kept && kept.length >= 32 ? kept : newUploadToken();
    const abort = new AbortController();
    const job: Job = { uid, generation, abort, done: Promise.resolve(), token };
    this.jobs.set(name, job);
    const target: UploadTarget = {
      name,
      uid,
      generation,
      checksums: checksumsOf(cvi.spec.dataSource.upload?.checksum),
      destination: () => this.registry.destination(cviRepository(name), CVI_TAG, []),
    };
    this.uploads.open(token, target);
    const message = `waiting for the upload: curl ${this.uploadURLs(token).external} --progress-bar -T <disk image>`;
    const waiting = s.phase === "WaitForUserUpload" && s.observedGeneration === generation;
    if (!waiting) {
      await this.writeStatus(name, uid, generation, (st) => ({
        ...this.base(cvi, freshStatus(st), "WaitForUserUpload", "WaitForUserUpload", message),
        progress: formatProgress(0),
        imageUploadURLs: this.uploadURLs(token),
        conditions: withCondition(readyCondition(st, "WaitForUserUpload", "WaitForUserUpload", message, generation), "DatasourceReady", "True", "WaitForUserUpload", "the upload URL is ready", generation),
      }));
    }
    await this.armUploadTimeout(name, job);
  }

  /** No upload started within uploadTimeout of the image starting to wait → Failed (WaitForUserUploadTimeout). */
  private async armUploadTimeout(name: string, job: Job): Promise<void> {
    if (!job.token || (await this.uploads.offset(job.token)) > 0) return; // bytes arrived: it waits for a resume instead
    const cvi = await this.read(name);
    const since = statusOf(cvi ?? ({} as KubeObject)).conditions?.find((c) => c.type === "Ready")?.lastTransitionTime;
    const started = since ? Date.parse(since) : Date.now();
    const left = Math.max(0, started + this.settings.uploadTimeoutMs - Date.now());
    if (job.timer) clearTimeout(job.timer);
    job.timer = setTimeout(() => void this.uploadTimedOut(name, job), left);
    job.timer.unref();
  }

  private async uploadTimedOut(name: string, job: Job): Promise<void> {
    if (this.jobs.get(name) !== job || !job.token || this.uploads.isActive(job.token) || (await this.uploads.offset(job.token)) > 0) return;
    this.jobs.delete(name);
    await this.uploads.close(job.token);
    const minutes = Math.round(this.settings.uploadTimeoutMs / 60_000);
    const message = `no upload started within ${minutes >= 1 ? `${minutes} min` : `${this.settings.uploadTimeoutMs / 1000} s`}; change the spec or re-create the image to get a new upload URL`;
    await this.writeStatus(name, job.uid, job.generation, (s) =>
      s.phase === "WaitForUserUpload" ? { ...withoutUploadURLs(s), phase: "Failed", conditions: readyCondition(s, "Failed", "WaitForUserUploadTimeout", message, job.generation) } : undefined,
    );
  }

  private uploadEvents() {
    const current = (t: UploadTarget) => this.jobs.get(t.name)?.uid === t.uid && this.jobs.get(t.name)?.generation === t.generation;
    let best = new Map<string, { percent: number; speed?: ImportProgress; writer?: ReturnType<CviController["progressWriter"]> }>();
    return {
      started: (t: UploadTarget, total: number | undefined) => {
        const job = this.jobs.get(t.name);
        if (job?.timer) clearTimeout(job.timer);
        const entry: { percent: number; speed?: ImportProgress; writer?: ReturnType<CviController["progressWriter"]> } = { percent: 0 };
        entry.writer = this.progressWriter(t.name, t.uid, t.generation, () => entry.percent);
        best.set(t.name, entry);
        const message = `receiving the upload${total !== undefined ? ` (${total} bytes)` : ""}`;
        void this.writeStatus(t.name, t.uid, t.generation, (s) => ({
          ...s,
          phase: "Provisioning",
          conditions: readyCondition(s, "Provisioning", "Provisioning", message, t.generation),
        }));
      },
      progress: (t: UploadTarget, p: ImportProgress) => {
        const entry = best.get(t.name);
        if (!entry) return;
        entry.percent = Math.max(entry.percent, percentOf(p));
        if (entry.writer) entry.writer.speed = p;
      },
      succeeded: async (t: UploadTarget, result: ImportResult) => {
        best.get(t.name)?.writer?.stop();
        best.delete(t.name);
        const cvi = await this.read(t.name);
        if (!cvi || !current(t)) return;
        // The job stays registered until Ready is written: a reconcile in between must not open a new URL.
        const job = this.jobs.get(t.name);
        try {
          await this.markReady(cvi, result);
        } finally {
          if (this.jobs.get(t.name) === job) this.jobs.delete(t.name);
        }
      },
      dropped: async (t: UploadTarget, received: number) => {
        best.get(t.name)?.writer?.stop();
        best.delete(t.name);
        if (!current(t)) return;
        const job = this.jobs.get(t.name)!;
        const url = this.uploadURLs(job.token!).external;
        const message = `the upload was interrupted after ${received} bytes: resume it with curl -C ${received} -T <disk image> ${url} (GET on the URL shows the offset)`;
        await this.writeStatus(t.name, t.uid, t.generation, (s) => ({
          ...s,
          phase: "WaitForUserUpload",
          conditions: readyCondition(s, "WaitForUserUpload", "WaitForUserUpload", message, t.generation),
        }));
      },
      failed: async (t: UploadTarget, err: unknown) => {
        best.get(t.name)?.writer?.stop();
        best.delete(t.name);
        if (!current(t)) return;
        this.jobs.delete(t.name);
        const cvi = await this.read(t.name);
        if (!cvi) return;
        const message = failureMessage(err);
        await this.writeStatus(t.name, t.uid, t.generation, (s) => ({
          ...withoutUploadURLs(s),
          phase: "Failed",
          observedGeneration: t.generation,
          conditions: readyCondition(s, "Failed", "ProvisioningFailed", message, t.generation),
        }));
      },
    };
  }

  // ---- cancel, delete, lost ----------------------------------------------------------------

  private async cancel(name: string, job: Job): Promise<void> {
    job.abort.abort();
    if (job.timer) clearTimeout(job.timer);
    if (job.token) await this.uploads.close(job.token);
    await job.done;
    if (this.jobs.get(name) === job) this.jobs.delete(name);
  }

  /** Terminating: stop the work, remove the repository, then let the object go. */
  private async finalize(cvi: ClusterVirtualImage): Promise<void> {
    const name = cvi.metadata.name;
    if (!(cvi.metadata.finalizers ?? []).includes(CVI_FINALIZER)) return;
    const { uid } = cvi.metadata;
    if (statusOf(cvi).phase !== "Terminating") {
      await this.writeStatus(name, uid, -1, (s) => ({
        ...s,
        phase: "Terminating",
        conditions: withCondition(s.conditions, "Terminating", "True", "CleanupPending", "the image is being removed from the registry", cvi.metadata.generation),
      }));
    }
    const job = this.jobs.get(name);
    if (job) await this.cancel(name, job);
    const token = statusOf(cvi).imageUploadURLs?.external.split("/").pop();
    if (token) await this.uploads.close(token);
    this.forgetDependency(name);
    await this.registry.deleteRepository(cviRepository(name));
    for (let attempt = 0; attempt < 10; attempt++) {
      const fresh = await this.read(name);
      if (!fresh || fresh.metadata.uid !== uid) return;
      const finalizers = (fresh.metadata.finalizers ?? []).filter((f) => f !== CVI_FINALIZER);
      try {
        await this.api.patch(name, { metadata: { finalizers: finalizers.length > 0 ? finalizers : null, resourceVersion: fresh.metadata.resourceVersion } }, "main");
        this.logger.info({ image: name }, "cvi: deleted with its repository");
        return;
      } catch (err) {
        if (isKubeError(err) && err.reason === "NotFound") return;
        if (!(isKubeError(err) && err.reason === "Conflict")) throw err;
      }
    }
    throw new KubeError("Conflict", `could not remove the finalizer of ${name}`);
  }

  /**
   * Check for lost images shortly (coalesced): called after a delete through the registry API or
   * a scrub, so ImageLost shows within a second instead of at the next periodic check.
   */
  checkLostSoon(): void {
    if (this.stopped || this.lostSoon) return;
    this.lostSoon = setTimeout(() => {
      this.lostSoon = undefined;
      this.checkLost().catch((err: unknown) => this.logger.warn({ err }, "cvi: lost-image check failed"));
    }, 200);
    this.lostSoon.unref();
  }

  /** Ready images whose manifest or a blob went away (deleted through the registry API, lost on disk) → ImageLost. */
  async checkLost(): Promise<void> {
    const { items } = await this.api.store.list(this.api.key);
    for (const o of items as ClusterVirtualImage[]) {
      if (statusOf(o).phase !== "Ready" || o.metadata.deletionTimestamp) continue;
      if (await this.registry.imageIntact(cviRepository(o.metadata.name), CVI_TAG)) continue;
      const message = `the image ${this.settings.registryHost}/${cviRepository(o.metadata.name)}:${CVI_TAG} is gone from the registry (its manifest or a layer was deleted or lost): re-create the ClusterVirtualImage to import it again`;
      this.logger.warn({ image: o.metadata.name }, "cvi: image lost");
      await this.writeStatus(o.metadata.name, o.metadata.uid, o.metadata.generation, (s) =>
        s.phase === "Ready" ? { ...s, phase: "ImageLost", conditions: readyCondition(s, "ImageLost", "ImageLost", message, o.metadata.generation) } : undefined,
      );
    }
  }

  private dependOn(name: string, other: string): void {
    const set = this.waitingOn.get(other) ?? new Set<string>();
    set.add(name);
    this.waitingOn.set(other, set);
  }

  private forgetDependency(name: string): void {
    for (const set of this.waitingOn.values()) set.delete(name);
  }

  /** The repositories that belong to an existing ClusterVirtualImage (a keep-list GC must spare them). */
  async repositories(): Promise<string[]> {
    const { items } = await this.api.store.list(this.api.key);
    return items.map((o) => cviRepository(o.metadata.name));
  }
}

function withoutUploadURLs(s: CviStatus): CviStatus {
  const { imageUploadURLs: _dead, ...rest } = s;
  return rest;
}

/** A new generation starts from nothing: results of an earlier one (sizes, format, URLs) do not carry over. */
function freshStatus(s: CviStatus): CviStatus {
  return { conditions: s.conditions };
}

function percentOf(p: ImportProgress): number {
  if (p.percent !== undefined) return p.percent;
  if (p.totalBytes) return (p.bytes / p.totalBytes) * 100;
  return 0;
}

/** A failure as a person reads it in `status.conditions[Ready].message`. */
export function failureMessage(err: unknown): string {
  if (isImportError(err)) {
    switch (err.kind) {
      case "not-found":
        return `the source was not found: ${err.message}; check the URL or image name`;
      case "forbidden":
        return `the source refused access: ${err.message}; check the credentials (imagePullSecret)`;
      case "checksum-mismatch":
        return `checksum mismatch: ${err.message}; the source is not the file the checksum describes`;
      case "corrupt":
        return `the source is corrupt: ${err.message}`;
      case "no-space":
        return `${err.message}; free space in the registry (delete images, run GC) or grow its volume`;
      default:
        return err.message;
    }
  }
  return (err as Error)?.message ?? String(err);
}
