import { binaryScale } from "../config/units.js";
import type { Condition, CviPhase, CviStatus } from "./types.js";

/** Ready-condition reasons (DVCR's). */
export type ReadyReason = "WaitForUserUpload" | "WaitForUserUploadTimeout" | "Provisioning" | "ProvisioningNotStarted" | "ProvisioningFailed" | "Ready" | "ImageLost";

/**
 * `status.progress` as DVCR writes it: "%.1f%%", held at 99.9 % until the image is Ready (a
 * rounded 99.96 must not read 100.0 % while the manifest is still being pushed).
 */
export function formatProgress(percent: number): string {
  const held = Math.min(Math.max(percent, 0), 99.9);
  return `${(Math.floor(held * 10) / 10).toFixed(1)}%`;
}

export const PROGRESS_DONE = "100%";

/** Parse "66.5%" back (for monotonicity across restarts). */
export function progressValue(progress: string | undefined): number {
  const v = progress ? Number.parseFloat(progress) : 0;
  return Number.isFinite(v) ? v : 0;
}

const UNITS = ["", "Ki", "Mi", "Gi", "Ti", "Pi"];

/** Bytes for people, as the CRD's size fields show them ("199Mi", "1.5Gi"). */
export function humanBytes(bytes: number): string {
  const { value, power } = binaryScale(bytes, UNITS.length - 1);
  const text = power === 0 || value >= 100 ? Math.round(value).toString() : value.toFixed(1).replace(/\.0$/, "");
  return `${text}${UNITS[power]}`;
}

export function speedOf(avg: number, current: number): NonNullable<CviStatus["downloadSpeed"]> {
  return {
    avg: `${humanBytes(avg)}/s`,
    avgBytes: String(Math.round(avg)),
    current: `${humanBytes(current)}/s`,
    currentBytes: String(Math.round(current)),
  };
}

export function sizeOf(stored: number, unpacked: number): NonNullable<CviStatus["size"]> {
  return { stored: humanBytes(stored), storedBytes: String(stored), unpacked: humanBytes(unpacked), unpackedBytes: String(unpacked) };
}

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Set a condition, keeping its lastTransitionTime when its status does not change (the
 * Kubernetes convention: the time says when it last flipped, not when it was last written).
 */
export function withCondition(
  conditions: Condition[] | undefined,
  type: string,
  status: Condition["status"],
  reason: string,
  message: string,
  generation: number,
): Condition[] {
  const list = (conditions ?? []).filter((c) => c.type !== type);
  const previous = (conditions ?? []).find((c) => c.type === type);
  const lastTransitionTime = previous && previous.status === status ? previous.lastTransitionTime : now();
  list.push({ type, status, reason, message, lastTransitionTime, observedGeneration: generation });
  return list.sort((a, b) => a.type.localeCompare(b.type));
}

/** The Ready condition and the phase that goes with it, in one step. */
export function readyCondition(status: CviStatus, phase: CviPhase, reason: ReadyReason, message: string, generation: number): Condition[] {
  return withCondition(status.conditions, "Ready", phase === "Ready" ? "True" : "False", reason, message, generation);
}
