/**
 * RegistryError: the one error type of dvcr. Every failure a client can see is one of the
 * Distribution-spec error codes below (plus a few of our own for storage conditions the spec
 * does not name); `http/errors.ts` is the only place that turns one into a response.
 */
export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry" },
  BLOB_UPLOAD_INVALID: { status: 400, message: "blob upload invalid" },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: "blob upload unknown to registry" },
  DIGEST_INVALID: { status: 400, message: "provided digest did not match uploaded content" },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: "manifest references a manifest or blob unknown to registry" },
  MANIFEST_INVALID: { status: 400, message: "manifest invalid" },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown to registry" },
  NAME_INVALID: { status: 400, message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, message: "repository name not known to registry" },
  SIZE_INVALID: { status: 400, message: "provided length did not match content length" },
  UNAUTHORIZED: { status: 401, message: "authentication required" },
  DENIED: { status: 403, message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 405, message: "the operation is unsupported" },
  TOOMANYREQUESTS: { status: 429, message: "too many requests" },
  // Not in the spec's table; clients treat unknown codes as UNKNOWN, which is what these are.
  // TAG_INVALID and PAGINATION_NUMBER_INVALID are distribution's names for the same conditions.
  TAG_INVALID: { status: 400, message: "manifest tag did not match URI" },
  RANGE_INVALID: { status: 416, message: "requested range not satisfiable" },
  PAGINATION_NUMBER_INVALID: { status: 400, message: "invalid number of results requested" },
  STORAGE_FULL: { status: 507, message: "storage volume is full" },
  // The admin API (/api/v1/) refuses a malformed request body or parameter with this.
  REQUEST_INVALID: { status: 400, message: "request invalid" },
  UNKNOWN: { status: 500, message: "unknown error" },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;
  /** HTTP status; defaults to the code's own, some spec rules override it (e.g. 416, 413). */
  readonly status: number;
  /** Extra response headers the spec asks for with this error (e.g. Range on a 416). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, opts: { detail?: unknown; status?: number; headers?: Record<string, string> } = {}) {
    super(message ?? ERROR_CODES[code].message);
    this.name = "RegistryError";
    this.code = code;
    this.detail = opts.detail;
    this.status = opts.status ?? ERROR_CODES[code].status;
    this.headers = opts.headers ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; detail?: unknown } {
    return this.detail === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, detail: this.detail };
  }
}

export function isRegistryError(err: unknown): err is RegistryError {
  return err instanceof RegistryError;
}
