import { InspectionError } from "./errors.js";

export interface Deadline {
  signal: AbortSignal;
  /** Release the timer (call when the work ends, however it ends). */
  clear(): void;
}

/**
 * An abort signal that fires after `ms` with an InspectionError naming the step, or when
 * `parent` aborts (shutdown), whichever comes first.
 */
export function deadline(ms: number, step: string, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new InspectionError(`${step} timed out after ${Math.round(ms / 1000)} s`, { overBudget: true })), ms);
  timer.unref();
  const onParentAbort = () => controller.abort(parent!.reason);
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener("abort", onParentAbort, { once: true });
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParentAbort);
    },
  };
}
