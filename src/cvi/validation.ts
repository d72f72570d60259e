import { isDeepStrictEqual } from "node:util";
import type { KubeObject } from "../kube/object-store.js";
import type { FieldErrors } from "../kube/status.js";

/** DNS-1123 label rules without the `.` of a subdomain: the name is one path component `cvi/<name>`. */
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const MAX_NAME_LENGTH = 253;

/** The CRD's pattern for `spec.dataSource.http.url`. */
const HTTP_URL = /^http[s]?:\/\/(?:[a-zA-Z]|[0-9]|[$-_@.&+]|[!*(),]|(?:%[0-9a-fA-F][0-9a-fA-F]))+$/;

/** Docker's reference grammar (distribution/reference), as the CRD's `containerImage.image` pattern. */
const IMAGE_REFERENCE =
  /^((?:(?:(?:localhost|[\w-]+(?:\.[\w-]+)+)(?::\d+)?)|[\w]+:\d+)\/)?([a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*)(?::([\w][\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$/;

export const DATA_SOURCE_TYPES = ["HTTP", "ContainerImage", "ObjectRef", "Upload"] as const;
export type DataSourceType = (typeof DATA_SOURCE_TYPES)[number];

/** The sub-object each type carries; every other one is forbidden beside it. */
const SUB_OBJECT: Record<DataSourceType, string> = { HTTP: "http", ContainerImage: "containerImage", ObjectRef: "objectRef", Upload: "upload" };
const REQUIRED_SUB_OBJECT: Record<DataSourceType, boolean> = { HTTP: true, ContainerImage: true, ObjectRef: true, Upload: false };

export const OBJECT_REF_KINDS = ["ClusterVirtualImage", "VirtualImage", "VirtualDisk", "VirtualDiskSnapshot"] as const;

/** Hex digits per checksum algorithm. */
const CHECKSUM_HEX: Record<string, number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };

export const READY_IMMUTABLE_MESSAGE = "ClusterVirtualImage is in a Ready state: configuration changes are not available";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function requireString(errors: FieldErrors, obj: Record<string, unknown>, key: string, path: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null || v === "") {
    errors.required(`${path}.${key}`);
    return undefined;
  }
  if (typeof v !== "string") {
    errors.invalid(`${path}.${key}`, v, "must be a string");
    return undefined;
  }
  return v;
}

function checkCaBundle(errors: FieldErrors, obj: Record<string, unknown>, path: string): void {
  const ca = obj.caBundle;
  if (ca === undefined) return;
  // The CRD types caBundle as `format: byte`: base64 of PEM certificates.
  if (typeof ca !== "string" || !/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(ca) || !Buffer.from(ca, "base64").toString("latin1").includes("-----BEGIN CERTIFICATE-----")) {
    errors.invalid(`${path}.caBundle`, typeof ca === "string" ? `${ca.slice(0, 16)}…` : ca, "must be base64-encoded PEM certificates");
  }
}

function checkChecksum(errors: FieldErrors, value: unknown, path: string): void {
  if (value === undefined) return;
  if (!isObject(value)) {
    errors.invalid(path, value, "must be an object");
    return;
  }
  for (const [algorithm, hex] of Object.entries(value)) {
    const length = CHECKSUM_HEX[algorithm];
    if (length === undefined) {
      errors.notSupported(`${path}.${algorithm}`, algorithm, Object.keys(CHECKSUM_HEX));
    } else if (typeof hex !== "string" || !new RegExp(`^[0-9a-fA-F]{${length}}$`).test(hex)) {
      errors.invalid(`${path}.${algorithm}`, hex, `must be ${length} hexadecimal digits`);
    }
  }
}

function checkHttp(errors: FieldErrors, http: Record<string, unknown>, path: string): void {
  const url = requireString(errors, http, "url", path);
  if (url !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!HTTP_URL.test(url) || !parsed || !parsed.hostname) errors.invalid(`${path}.url`, url, "must be an http:// or https:// URL");
  }
  checkCaBundle(errors, http, path);
  checkChecksum(errors, http.checksum, `${path}.checksum`);
}

function checkContainerImage(errors: FieldErrors, ci: Record<string, unknown>, path: string): void {
  const image = requireString(errors, ci, "image", path);
  if (image !== undefined && (image.length > 255 || !IMAGE_REFERENCE.test(image))) {
    errors.invalid(`${path}.image`, image, "must be an image reference such as registry.example.com/images/ubuntu:22.04 or …@sha256:<64 hex>");
  }
  const secret = ci.imagePullSecret;
  if (secret !== undefined) {
    if (!isObject(secret)) errors.invalid(`${path}.imagePullSecret`, secret, "must be an object with name and namespace");
    else {
      const name = requireString(errors, secret, "name", `${path}.imagePullSecret`);
      if (name !== undefined && !NAME.test(name)) errors.invalid(`${path}.imagePullSecret.name`, name, "must be a DNS-1123 name");
      const ns = requireString(errors, secret, "namespace", `${path}.imagePullSecret`);
      if (ns !== undefined && !NAME.test(ns)) errors.invalid(`${path}.imagePullSecret.namespace`, ns, "must be a DNS-1123 label");
    }
  }
  checkCaBundle(errors, ci, path);
}

function checkObjectRef(errors: FieldErrors, ref: Record<string, unknown>, path: string): void {
  const kind = requireString(errors, ref, "kind", path);
  if (kind !== undefined && !(OBJECT_REF_KINDS as readonly string[]).includes(kind)) errors.notSupported(`${path}.kind`, kind, OBJECT_REF_KINDS);
  requireString(errors, ref, "name", path);
  if (kind !== undefined && kind !== "ClusterVirtualImage") requireString(errors, ref, "namespace", path);
}

/** The rules of the ClusterVirtualImage CRD: the name, and exactly the data source its type names. */
export function validateClusterVirtualImage(object: KubeObject, errors: FieldErrors): void {
  const name = object.metadata.name;
  if (!name) errors.required("metadata.name", "name or generateName is required");
  else if (name.length > MAX_NAME_LENGTH) errors.invalid("metadata.name", name, `must be no more than ${MAX_NAME_LENGTH} characters`);
  else if (!NAME.test(name)) {
    errors.invalid(
      "metadata.name",
      name,
      "a ClusterVirtualImage name must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character, and may not contain '.' (regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    );
  }
  const spec = object.spec;
  if (!isObject(spec)) {
    errors.required("spec");
    return;
  }
  const ds = spec.dataSource;
  if (!isObject(ds)) {
    errors.required("spec.dataSource");
    return;
  }
  const type = ds.type;
  if (type === undefined) {
    errors.required("spec.dataSource.type");
    return;
  }
  if (!(DATA_SOURCE_TYPES as readonly unknown[]).includes(type)) {
    errors.notSupported("spec.dataSource.type", type, DATA_SOURCE_TYPES);
    return;
  }
  const t = type as DataSourceType;
  for (const [other, key] of Object.entries(SUB_OBJECT)) {
    if (other !== t && ds[key] !== undefined) errors.forbidden(`spec.dataSource.${key}`, `must not be set when type is ${t}`);
  }
  const key = SUB_OBJECT[t];
  const sub = ds[key];
  if (sub === undefined) {
    if (REQUIRED_SUB_OBJECT[t]) errors.required(`spec.dataSource.${key}`, `type ${t} requires it`);
    return;
  }
  if (!isObject(sub)) {
    errors.invalid(`spec.dataSource.${key}`, sub, "must be an object");
    return;
  }
  const path = `spec.dataSource.${key}`;
  if (t === "HTTP") checkHttp(errors, sub, path);
  else if (t === "ContainerImage") checkContainerImage(errors, sub, path);
  else if (t === "ObjectRef") checkObjectRef(errors, sub, path);
  else checkChecksum(errors, sub.checksum, `${path}.checksum`);
}

/** After Ready the image is what it is: DVCR's webhook refuses spec changes with its own words. */
export function validateClusterVirtualImageUpdate(next: KubeObject, old: KubeObject, errors: FieldErrors): void {
  const phase = isObject(old.status) ? old.status.phase : undefined;
  if (phase === "Ready" && !isDeepStrictEqual(next.spec, old.spec)) errors.forbidden("spec", READY_IMMUTABLE_MESSAGE);
}
