export type ImportFailureKind = "not-found" | "forbidden" | "checksum-mismatch" | "corrupt" | "no-space" | "invalid" | "transient" | "cancelled";

/** Kinds that another try cannot fix: they fail the import at once. */
const PERMANENT: ReadonlySet<ImportFailureKind> = new Set(["not-found", "forbidden", "checksum-mismatch", "corrupt", "no-space", "invalid", "cancelled"]);

/** Why an import failed, as a value the controller and the CLI can act on. */
export class ImportError extends Error {
  readonly kind: ImportFailureKind;
  readonly retryable: boolean;

  constructor(kind: ImportFailureKind, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ImportError";
    this.kind = kind;
    this.retryable = !PERMANENT.has(kind);
  }
}

export function isImportError(err: unknown): err is ImportError {
  return err instanceof ImportError;
}

/** The message DVCR's importer gives for a full volume; the controller shows it to users. */
export const OUT_OF_SPACE = "DVCR is out of space";

/** Map an HTTP status of a source or the destination to a failure kind. */
export function kindOfStatus(status: number): ImportFailureKind {
  if (status === 404 || status === 410) return "not-found";
  if (status === 401 || status === 403) return "forbidden";
  if (status === 507) return "no-space";
  if (status === 408 || status === 429 || status >= 500) return "transient";
  return "invalid";
}

/** Certificate failures: no retry fixes them, the CA bundle (or INSECURE_TLS) does. */
const TLS_VERIFY_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Anything thrown below that is not an ImportError: cancellation, or a network fault worth retrying. */
export function toImportError(err: unknown, signal?: AbortSignal): ImportError {
  if (isImportError(err)) return err;
  if (signal?.aborted) return new ImportError("cancelled", "import cancelled", { cause: err });
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "ENOSPC") return new ImportError("no-space", `${OUT_OF_SPACE}: ${e.message}`, { cause: err });
  const tls = [e, (e as { cause?: NodeJS.ErrnoException })?.cause].find((x) => x?.code && TLS_VERIFY_CODES.has(x.code));
  if (tls) return new ImportError("invalid", `TLS certificate not trusted (${tls.code}): ${tls.message}; give the CA bundle, or allow insecure TLS`, { cause: err });
  return new ImportError("transient", (e as Error)?.message ?? String(err), { cause: err });
}
