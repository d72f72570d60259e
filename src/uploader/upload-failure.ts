import { isImportError, type ImportError, type ImportFailureKind } from "../importer/index.js";
import type { BodyInterruption } from "./upload-body.js";

/** How a failed upload is answered: a status, and the message the user sees in `{"message": ...}`. */
export interface UploadFailure {
  status: number;
  message: string;
  kind: ImportFailureKind | BodyInterruption;
}

/**
 * The body is the client's (400: not a usable disk, bad gz/xz), the destination is a gateway
 * behind us (502: refused credentials, unreachable; 507: DVCR is full), a shutdown is 503.
 */
const STATUS_OF_KIND: Record<ImportFailureKind, number> = {
  invalid: 400,
  corrupt: 400,
  "checksum-mismatch": 400,
  "no-space": 507,
  forbidden: 502,
  "not-found": 502,
  transient: 502,
  cancelled: 503,
};

export function uploadFailure(err: unknown, interruption: BodyInterruption | undefined, stallMs: number): UploadFailure {
  if (interruption === "cut") return { status: 400, message: "the upload was cut: the client closed the connection before the whole body arrived", kind: "cut" };
  if (interruption === "stalled") return { status: 408, message: `the upload stalled: no byte arrived for ${stallMs / 1000} s`, kind: "stalled" };
  if (!isImportError(err)) return { status: 500, message: String((err as Error)?.message ?? err), kind: "transient" };
  return { status: STATUS_OF_KIND[err.kind], message: messageOf(err), kind: err.kind };
}

function messageOf(failure: ImportError): string {
  if (failure.kind === "cancelled") return "the uploader is shutting down; the upload was cancelled";
  const atDestination = failure.kind === "forbidden" || failure.kind === "not-found" || failure.kind === "transient";
  return atDestination ? `pushing to the destination registry: ${failure.message}` : failure.message;
}
