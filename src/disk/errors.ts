/**
 * Why a layer is not a usable disk image. Thrown by the parsers and the tar walker; the index
 * stores `reason` next to `format: null`. Anything else thrown is a fault of ours (or of the
 * storage) and is reported as such.
 */
export class InspectionError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "InspectionError";
  }
}

export function isInspectionError(err: unknown): err is InspectionError {
  return err instanceof InspectionError;
}
