/**
 * Why a layer is not a usable disk image. Thrown by the parsers and the tar walker; the index
 * stores `reason` next to `format: null`. Anything else thrown is a fault of ours (or of the
 * storage) and is reported as such.
 */
const MAX_REASON = 512;

export class InspectionError extends Error {
  readonly reason: string;
  /**
   * The inspector stopped spending work on the layer (a time budget, the gzip expansion bound):
   * nothing says the disk is broken, so what an earlier pass found about it still holds.
   */
  readonly overBudget: boolean;

  constructor(reason: string, { overBudget = false }: { overBudget?: boolean } = {}) {
    // Reasons quote names from the layer (a pax path may be megabytes): keep what we store short.
    const bounded = reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON)}…` : reason;
    super(bounded);
    this.reason = bounded;
    this.overBudget = overBudget;
    this.name = "InspectionError";
  }
}

export function isInspectionError(err: unknown): err is InspectionError {
  return err instanceof InspectionError;
}
