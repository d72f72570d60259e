import { setTimeout as sleep } from "node:timers/promises";
import { ImportError, isImportError, toImportError } from "./errors.js";
import type { ImportTuning } from "./types.js";

/** DVCR's importer: 1 s, ×3 each time, capped at 1 min, 20 tries. */
export interface RetryPolicy {
  baseMs: number;
  maxDelayMs: number;
  maxTries: number;
}

export function retryPolicy(tuning: ImportTuning = {}): RetryPolicy {
  return { baseMs: tuning.retryBaseMs ?? 1000, maxDelayMs: tuning.retryMaxDelayMs ?? 60_000, maxTries: tuning.maxTries ?? 20 };
}

export function backoffDelay(policy: RetryPolicy, failures: number): number {
  return Math.min(policy.maxDelayMs, policy.baseMs * 3 ** Math.max(0, failures - 1));
}

/**
 * Counts failures in a row; progress between two failures starts the count again, so a long
 * download over a flaky link is not failed by its 21st drop in an hour.
 */
export class RetryBudget {
  private failures = 0;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly signal?: AbortSignal,
  ) {}

  progressed(): void {
    this.failures = 0;
  }

  /** Wait before the next try, or throw when the error is permanent or the tries are spent. */
  async failed(err: unknown, what: string): Promise<void> {
    const failure = toImportError(err, this.signal);
    if (!failure.retryable) throw failure;
    this.failures++;
    if (this.failures >= this.policy.maxTries) {
      throw new ImportError("transient", `${what} failed ${this.failures} times in a row, giving up: ${failure.message}`, { cause: err });
    }
    try {
      await sleep(backoffDelay(this.policy, this.failures), undefined, { signal: this.signal });
    } catch (abort) {
      throw toImportError(abort, this.signal);
    }
  }
}

export function isRetryable(err: unknown): boolean {
  return isImportError(err) ? err.retryable : true;
}
