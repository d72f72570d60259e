import { CheckFailed, type Created, type Pusher } from "./checks.js";
import type { RegistryClient } from "./http.js";

export type Workflow = "pull" | "push" | "discovery" | "management";
export const WORKFLOWS: Workflow[] = ["pull", "push", "discovery", "management"];

/** A check returns nothing, or a note saying which of the behaviours the spec allows it saw. */
export type CheckFn = () => Promise<string | void>;
export type AddCheck = (name: string, run: CheckFn) => void;

/** What a workflow's checks share. */
export interface Context {
  client: RegistryClient;
  push: Pusher;
  created: Created;
  /** A repository of this run: `<namespace>/<run>-<suffix>`. */
  repo(suffix: string): string;
  /** A repository of this run that is never pushed to. */
  unknownRepo: string;
}

/** A value an earlier set-up step should have produced; fails the check with the set-up's reason if not. */
export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new CheckFailed(`prerequisite failed: ${what}`);
  return value;
}
