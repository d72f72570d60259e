import { randomBytes, randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { ResourceVersionTooOld, StoreConflict, type KubeObject, type KubeObjectStore, type ObjectChange, type ObjectMeta } from "./object-store.js";
import { applyMergePatch } from "./merge-patch.js";
import { pruneUnknown, type FieldSchema, type FieldValidation } from "./schema.js";
import type { Selector } from "./selectors.js";
import { FieldErrors, KubeError, alreadyExists, conflict, notFound, type ResourceName } from "./status.js";
import type { ColumnDefinition } from "./table.js";

/** A cluster-scoped resource served by ResourceApi: its names, schema, validation and printing. */
export interface ResourceDefinition extends ResourceName {
  version: string;
  singular: string;
  listKind: string;
  shortNames: string[];
  categories: string[];
  /** Known fields (metadata, spec, status): unknown ones are pruned or refused (fieldValidation). */
  schema: FieldSchema;
  /** Problems of a new or changed object (the name included), as field errors. */
  validate(object: KubeObject, errors: FieldErrors): void;
  /** Problems of a change of `old` into `next` beyond validate (immutability rules). */
  validateUpdate?(next: KubeObject, old: KubeObject, errors: FieldErrors): void;
  /** Finalizer put on every new object: the controller's cleanup runs before it goes. */
  finalizer?: string;
  columns: ColumnDefinition[];
  cells(object: KubeObject, now: number): unknown[];
}

export function apiVersionOf(d: ResourceDefinition): string {
  return `${d.group}/${d.version}`;
}

/** The store's key for the resource. */
export function storeKeyOf(d: ResourceDefinition): string {
  return `${d.plural}.${d.group}`;
}

export interface WriteOptions {
  dryRun?: boolean;
  fieldValidation?: FieldValidation;
}

export interface WriteResult {
  object: KubeObject;
  /** Unknown fields that were dropped (for a `Warning` header under fieldValidation=Warn). */
  warnings: string[];
}

export interface DeleteOptions {
  dryRun?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** What a patch may change: the object (main resource) or its status only (`/status`). */
export type Subresource = "main" | "status";

/** Attempts of a read-modify-write before a PATCH gives up on a busy object (the API server's retry). */
const PATCH_ATTEMPTS = 5;

/**
 * The API server's rules for one resource over a KubeObjectStore: server-managed metadata,
 * generation on spec changes, the status subresource, optimistic concurrency, finalizers
 * and deletionTimestamp, selectors. HTTP-free; http/routes/kube.ts maps requests onto it.
 */
export class ResourceApi {
  readonly key: string;
  /** Open watches: how each is ended (server shutdown ends them all). */
  private readonly watches = new Set<() => void>();

  constructor(
    readonly definition: ResourceDefinition,
    readonly store: KubeObjectStore,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.key = storeKeyOf(definition);
  }

  async get(name: string): Promise<KubeObject> {
    const object = await this.store.get(this.key, name);
    if (!object) throw notFound(this.definition, name);
    return object;
  }

  async list(selector: Selector): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const { items, resourceVersion } = await this.store.list(this.key);
    return { items: items.filter(selector), resourceVersion: String(resourceVersion) };
  }

  async create(body: unknown, options: WriteOptions = {}): Promise<WriteResult> {
    const { object, warnings } = this.decode(body, options.fieldValidation);
    const meta = object.metadata as Partial<ObjectMeta> & { generateName?: string };
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomBytes(4).toString("hex").slice(0, 5)}`;
    const name = typeof meta.name === "string" ? meta.name : "";
    if (meta.resourceVersion) throw this.invalid(name, (e) => e.forbidden("metadata.resourceVersion", "may not be set on create"));
    const created: KubeObject = {
      ...object,
      metadata: {
        ...(object.metadata as ObjectMeta),
        name,
        uid: randomUUID(),
        resourceVersion: "",
        generation: 1,
        creationTimestamp: this.timestamp(),
        finalizers: this.withFinalizer((object.metadata as ObjectMeta).finalizers),
      },
    };
    delete created.metadata.deletionTimestamp;
    delete created.metadata.generateName;
    delete created.status; // status is written through /status only
    this.check(created);
    if (options.dryRun) return { object: created, warnings };
    try {
      return { object: await this.store.put(this.key, created, null), warnings };
    } catch (err) {
      if (err instanceof StoreConflict) throw alreadyExists(this.definition, name);
      throw err;
    }
  }

  /** PUT: a whole object, which must carry the resourceVersion it was read at. */
  async replace(name: string, body: unknown, subresource: Subresource, options: WriteOptions = {}): Promise<WriteResult> {
    const { object, warnings } = this.decode(body, options.fieldValidation);
    if (object.metadata.name !== name) {
      throw new KubeError("BadRequest", `the name of the object (${String(object.metadata.name)}) does not match the name on the URL (${name})`);
    }
    const rv = object.metadata.resourceVersion;
    if (!rv) throw this.invalid(name, (e) => e.invalid("metadata.resourceVersion", 0, "must be specified for an update"));
    const old = await this.get(name);
    if (old.metadata.resourceVersion !== rv) throw conflict(this.definition, name, "the object has been modified; please apply your changes to the latest version and try again");
    return { object: await this.write(old, object, subresource, options), warnings };
  }

  /** PATCH with a JSON merge patch; retried on a concurrent write unless the patch pins a resourceVersion. */
  async patch(name: string, patch: unknown, subresource: Subresource, options: WriteOptions = {}): Promise<WriteResult> {
    if (!isPlainObject(patch)) throw new KubeError("BadRequest", "a merge patch must be a JSON object");
    const pinned = isPlainObject(patch.metadata) ? patch.metadata.resourceVersion : undefined;
    for (let attempt = 1; ; attempt++) {
      const old = await this.get(name);
      if (pinned !== undefined && pinned !== null && pinned !== old.metadata.resourceVersion) {
        throw conflict(this.definition, name, "the object has been modified; please apply your changes to the latest version and try again");
      }
      const { object, warnings } = this.decode(applyMergePatch(old, patch), options.fieldValidation);
      object.metadata.resourceVersion = old.metadata.resourceVersion;
      try {
        return { object: await this.write(old, object, subresource, options), warnings };
      } catch (err) {
        if (!(err instanceof StoreConflict && err.kind === "stale") || pinned || attempt >= PATCH_ATTEMPTS) throw err;
      }
    }
  }

  /**
   * DELETE: with finalizers pending the object only gets its deletionTimestamp (the controller
   * cleans up, then drops its finalizer); without, it goes at once. Returns the object as last seen.
   */
  async delete(name: string, options: DeleteOptions = {}): Promise<{ object: KubeObject; gone: boolean }> {
    for (let attempt = 1; ; attempt++) {
      const old = await this.get(name);
      const pre = options.preconditions;
      if (pre?.uid && pre.uid !== old.metadata.uid) {
        throw conflict(this.definition, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
        throw conflict(this.definition, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`);
      }
      const pending = (old.metadata.finalizers ?? []).length > 0;
      if (options.dryRun) return { object: old, gone: !pending };
      try {
        if (!pending) return { object: await this.store.remove(this.key, name, old.metadata.resourceVersion), gone: true };
        if (old.metadata.deletionTimestamp) return { object: old, gone: false };
        const marked: KubeObject = { ...old, metadata: { ...old.metadata, deletionTimestamp: this.timestamp(), deletionGracePeriodSeconds: 0 } };
        return { object: await this.store.put(this.key, marked, old.metadata.resourceVersion), gone: false };
      } catch (err) {
        if (err instanceof StoreConflict && err.kind === "missing") throw notFound(this.definition, name);
        if (!(err instanceof StoreConflict) || attempt >= PATCH_ATTEMPTS) throw err;
      }
    }
  }

  /**
   * Changes after `fromVersion` that match, then every later one as it commits; returns the stop.
   * `alreadyShown`: names the watcher already got as ADDED (so one that stops matching gets DELETED).
   * `onEnd`: called when the API ends the watch itself (closeWatches), not when the caller stops it.
   */
  async watch(
    fromVersion: number,
    selector: Selector,
    deliver: (change: ObjectChange) => void,
    alreadyShown: string[] = [],
    onEnd: () => void = () => {},
  ): Promise<() => void> {
    const queued: ObjectChange[] = [];
    let replaying = true;
    let last = fromVersion;
    const visible = new Set<string>(alreadyShown);
    const emit = (change: ObjectChange) => {
      if (change.resource !== this.key || change.resourceVersion <= last) return;
      last = change.resourceVersion;
      const name = change.object.metadata.name;
      const matches = selector(change.object);
      // An object that stops matching the selector leaves the watcher's view: Kubernetes sends DELETED.
      if (!matches) {
        if (visible.delete(name) && change.type !== "DELETED") deliver({ ...change, type: "DELETED" });
        return;
      }
      if (change.type === "DELETED") visible.delete(name);
      else visible.add(name);
      deliver(change);
    };
    const unsubscribe = this.store.subscribe((change) => (replaying ? queued.push(change) : emit(change)));
    try {
      for (const change of await this.store.changesSince(this.key, fromVersion)) emit(change);
    } catch (err) {
      unsubscribe();
      if (err instanceof ResourceVersionTooOld) throw new KubeError("Expired", err.message);
      throw err;
    }
    for (const change of queued) emit(change);
    replaying = false;
    const end = () => {
      stop();
      onEnd();
    };
    const stop = () => {
      unsubscribe();
      this.watches.delete(end);
    };
    this.watches.add(end);
    return stop;
  }

  /** End every open watch (clients relist or rewatch from their last resourceVersion). */
  closeWatches(): void {
    for (const end of [...this.watches]) end();
  }

  /** RFC 3339 to the second, as metav1.Time serializes. */
  private timestamp(): string {
    return this.now().toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  private withFinalizer(finalizers: string[] | undefined): string[] | undefined {
    const f = this.definition.finalizer;
    const list = Array.isArray(finalizers) ? [...finalizers] : [];
    if (f && !list.includes(f)) list.push(f);
    return list.length > 0 ? list : undefined;
  }

  /** The object of a body: apiVersion and kind must be ours; unknown fields pruned or refused. */
  private decode(body: unknown, validation: FieldValidation = "Warn"): { object: KubeObject; warnings: string[] } {
    if (!isPlainObject(body)) throw new KubeError("BadRequest", "the body of the request must be a JSON object");
    const d = this.definition;
    const object = structuredClone(body) as KubeObject;
    if (object.apiVersion !== apiVersionOf(d) || object.kind !== d.kind) {
      throw new KubeError("BadRequest", `the API version in the data (${String(object.apiVersion)}) and kind (${String(object.kind)}) do not match ${apiVersionOf(d)}, Kind=${d.kind}`);
    }
    if (!isPlainObject(object.metadata)) object.metadata = {} as ObjectMeta;
    const unknown = pruneUnknown(object, d.schema);
    if (unknown.length > 0 && validation === "Strict") {
      const list = unknown.map((f) => `unknown field "${f}"`);
      throw new KubeError("BadRequest", `${d.kind} in version "${d.version}" cannot be handled as a ${d.kind}: strict decoding error: ${list.join(", ")}`);
    }
    return { object, warnings: validation === "Ignore" ? [] : unknown.map((f) => `unknown field "${f}"`) };
  }

  private invalid(name: string, add: (errors: FieldErrors) => void): KubeError {
    const errors = new FieldErrors();
    add(errors);
    try {
      errors.throwIfAny(this.definition, name);
    } catch (err) {
      return err as KubeError;
    }
    return new KubeError("Invalid", "invalid");
  }

  private check(object: KubeObject, old?: KubeObject): void {
    const errors = new FieldErrors();
    this.definition.validate(object, errors);
    if (old) this.definition.validateUpdate?.(object, old, errors);
    errors.throwIfAny(this.definition, object.metadata.name);
  }

  /**
   * Write a changed object: server-managed metadata stays the server's, the main resource
   * cannot write status and /status cannot write anything else, generation counts spec
   * changes, and a deleted object whose last finalizer goes is removed.
   */
  private async write(old: KubeObject, next: KubeObject, subresource: Subresource, options: WriteOptions): Promise<KubeObject> {
    const om = old.metadata;
    let merged: KubeObject;
    if (subresource === "status") {
      merged = { ...old, status: next.status };
    } else {
      merged = { ...next, status: old.status };
      if (merged.status === undefined) delete merged.status;
      const m = next.metadata;
      merged.metadata = {
        ...m,
        name: om.name,
        uid: om.uid,
        creationTimestamp: om.creationTimestamp,
        resourceVersion: om.resourceVersion,
        generation: isDeepStrictEqual(next.spec, old.spec) ? om.generation : om.generation + 1,
        ...(om.deletionTimestamp ? { deletionTimestamp: om.deletionTimestamp, deletionGracePeriodSeconds: om.deletionGracePeriodSeconds } : {}),
      };
      if (!om.deletionTimestamp) {
        delete merged.metadata.deletionTimestamp;
        delete merged.metadata.deletionGracePeriodSeconds;
      }
      for (const key of ["labels", "annotations", "finalizers"] as const) {
        const v = merged.metadata[key];
        if (v === undefined || v === null || (Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0)) delete merged.metadata[key];
      }
      if (om.deletionTimestamp) {
        const added = (merged.metadata.finalizers ?? []).filter((f) => !(om.finalizers ?? []).includes(f));
        if (added.length > 0) throw this.invalid(om.name, (e) => e.forbidden("metadata.finalizers", `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`));
      }
      this.check(merged, old);
    }
    if (isDeepStrictEqual(merged, old)) return old; // a no-op write keeps the resourceVersion, as the API server does
    if (options.dryRun) return merged;
    const gone = merged.metadata.deletionTimestamp && (merged.metadata.finalizers ?? []).length === 0;
    try {
      if (gone) {
        const written = await this.store.put(this.key, merged, om.resourceVersion);
        return await this.store.remove(this.key, om.name, written.metadata.resourceVersion);
      }
      return await this.store.put(this.key, merged, om.resourceVersion);
    } catch (err) {
      if (err instanceof StoreConflict && err.kind === "missing") throw notFound(this.definition, om.name);
      throw err;
    }
  }
}

/** A stale write seen by a caller outside patch's retry loop becomes 409 Conflict. */
export function conflictOf(definition: ResourceDefinition, err: unknown): unknown {
  if (err instanceof StoreConflict && err.kind === "stale") {
    return conflict(definition, err.objectName, "the object has been modified; please apply your changes to the latest version and try again");
  }
  return err;
}
