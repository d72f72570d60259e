import { Cron } from "croner";

/** `schedule: off` disables a task's timer; it still runs on request (API, CLI). */
export const SCHEDULE_OFF = "off";

/** croner's reading of a pattern: 5 fields as crontab, or 6 with leading seconds. */
export const CRON_MODE = "5-or-6-parts" as const;

/** Why a cron expression is invalid, or undefined when it is fine ("off" included). */
export function scheduleProblem(pattern: string): string | undefined {
  if (pattern === SCHEDULE_OFF) return undefined;
  try {
    new Cron(pattern, { paused: true, mode: CRON_MODE }).stop();
    return undefined;
  } catch (err) {
    return `invalid cron expression "${pattern}": ${(err as Error).message}`;
  }
}
