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
  // TAG_INVALID, RANGE_INVALID, PAGINATION_NUMBER_INVALID and UNAVAILABLE are distribution's
  // names (and statuses) for the same conditions.
  TAG_INVALID: { status: 400, message: "manifest tag did not match URI" },
  /** A Range the blob cannot satisfy, or a chunk that does not start where the upload ends. */
  RANGE_INVALID: { status: 416, message: "requested range not satisfiable" },
  PAGINATION_NUMBER_INVALID: { status: 400, message: "invalid number of results requested" },
  STORAGE_FULL: { status: 507, message: "storage volume is full" },
  /** Out of file descriptors or another resource that comes back: retry later. */
  UNAVAILABLE: { status: 503, message: "service unavailable" },
  // The admin API (/api/v1/) refuses a malformed request body or parameter with this.
  REQUEST_INVALID: { status: 400, message: "request invalid" },
  UNKNOWN: { status: 500, message: "unknown error" },
  // Our names for conditions whose status differs from the spec code they answer with (`wire`).
  /** A body larger than the route takes (a manifest above storage.maxManifestBytes): 413. */
  BODY_TOO_LARGE: { status: 413, message: "request body too large", wire: "SIZE_INVALID" },
  /** A malformed request outside the spec's own codes (a repeated query parameter, a bad token request). */
  BAD_REQUEST: { status: 400, message: "bad request", wire: "UNSUPPORTED" },
  /** No route has this path. */
  ROUTE_UNKNOWN: { status: 404, message: "no such route", wire: "UNSUPPORTED" },
  /** The request's headers are larger than Node accepts. */
  HEADERS_TOO_LARGE: { status: 431, message: "request headers too large", wire: "UNSUPPORTED" },
  /** The request's headers did not arrive within http.headersTimeout. */
  REQUEST_TIMEOUT: { status: 408, message: "request headers not received in time", wire: "UNSUPPORTED" },
} as const satisfies Record<string, { status: number; message: string; wire?: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;
  /** HTTP status: the code's, from the table above (the only place statuses are chosen). */
  readonly status: number;
  /** Extra response headers the spec asks for with this error (e.g. Range on a 416). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, opts: { detail?: unknown; headers?: Record<string, string> } = {}) {
    super(message ?? ERROR_CODES[code].message);
    this.name = "RegistryError";
    this.code = code;
    this.detail = opts.detail;
    this.status = ERROR_CODES[code].status;
    this.headers = opts.headers ?? {};
  }

  /** The code clients see: the spec's where ours is a variant of one. */
  get wireCode(): string {
    const entry = ERROR_CODES[this.code];
    return "wire" in entry ? entry.wire : this.code;
  }

  toJSON(): { code: string; message: string; detail?: unknown } {
    return this.detail === undefined
      ? { code: this.wireCode, message: this.message }
      : { code: this.wireCode, message: this.message, detail: this.detail };
  }
}

export function isRegistryError(err: unknown): err is RegistryError {
  return err instanceof RegistryError;
}
