/**
 * Kubernetes API errors as `Status` objects (meta/v1). kubectl prints `message` and decides what
 * to do from `reason` and `code` (a 404 NotFound on apply means "create", a 409 Conflict means a
 * stale resourceVersion, a 410 Gone makes a watcher relist), so both must be exactly Kubernetes'.
 */
export type StatusReason =
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Invalid"
  | "BadRequest"
  | "Forbidden"
  | "Unauthorized"
  | "MethodNotAllowed"
  | "NotAcceptable"
  | "UnsupportedMediaType"
  | "Expired"
  | "Gone"
  | "RequestEntityTooLarge"
  | "TooManyRequests"
  | "InternalError";

/** One reason of an Invalid error: which field, what kind of problem. */
export interface StatusCause {
  /** `FieldValueRequired`, `FieldValueInvalid`, `FieldValueForbidden`, … */
  reason: string;
  message: string;
  field: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

const CODES: Record<StatusReason, number> = {
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Invalid: 422,
  BadRequest: 400,
  Forbidden: 403,
  Unauthorized: 401,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  UnsupportedMediaType: 415,
  Expired: 410,
  Gone: 410,
  RequestEntityTooLarge: 413,
  TooManyRequests: 429,
  InternalError: 500,
};

export class KubeError extends Error {
  readonly code: number;
  constructor(
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
    /** Response headers (WWW-Authenticate, Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.code = CODES[reason];
  }

  toStatus(): KubeStatus {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export interface KubeStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Success" | "Failure";
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export function isKubeError(err: unknown): err is KubeError {
  return err instanceof KubeError;
}

/** A resource, as Status messages name it: `clustervirtualimages.virtualization.deckhouse.io "x"`. */
export interface ResourceName {
  group: string;
  plural: string;
  kind: string;
}

export function notFound(r: ResourceName, name: string): KubeError {
  return new KubeError("NotFound", `${r.plural}.${r.group} "${name}" not found`, { name, group: r.group, kind: r.plural });
}

export function alreadyExists(r: ResourceName, name: string): KubeError {
  return new KubeError("AlreadyExists", `${r.plural}.${r.group} "${name}" already exists`, { name, group: r.group, kind: r.plural });
}

export function conflict(r: ResourceName, name: string, why: string): KubeError {
  return new KubeError("Conflict", `Operation cannot be fulfilled on ${r.plural}.${r.group} "${name}": ${why}`, { name, group: r.group, kind: r.plural });
}

/** Kubernetes' field-error wording: `spec.http.url: Required value`, `…: Invalid value: "x": why`. */
export class FieldErrors {
  readonly causes: StatusCause[] = [];

  required(field: string, detail?: string): void {
    this.causes.push({ reason: "FieldValueRequired", field, message: `Required value${detail ? `: ${detail}` : ""}` });
  }

  invalid(field: string, value: unknown, detail: string): void {
    this.causes.push({ reason: "FieldValueInvalid", field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` });
  }

  forbidden(field: string, detail: string): void {
    this.causes.push({ reason: "FieldValueForbidden", field, message: `Forbidden: ${detail}` });
  }

  notSupported(field: string, value: unknown, supported: readonly string[]): void {
    this.causes.push({
      reason: "FieldValueNotSupported",
      field,
      message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => `"${s}"`).join(", ")}`,
    });
  }

  get empty(): boolean {
    return this.causes.length === 0;
  }

  /** Throw 422 Invalid naming every problem, as the API server does (`kind "name" is invalid: [a, b]`). */
  throwIfAny(r: ResourceName, name: string): void {
    if (this.empty) return;
    const list = this.causes.map((c) => `${c.field}: ${c.message}`);
    const joined = list.length === 1 ? list[0] : `[${list.join(", ")}]`;
    throw new KubeError("Invalid", `${r.kind}.${r.group} "${name}" is invalid: ${joined}`, {
      name,
      group: r.group,
      kind: r.kind,
      causes: this.causes,
    });
  }
}
