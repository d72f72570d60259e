import { compileRepositoryGlob } from "./glob.js";
import type { Access } from "./scope.js";

/** One grant: actions on the resources of a type whose name matches. */
export interface AccessRule {
  type: string;
  matches(name: string): boolean;
  actions: ReadonlySet<string>;
}

export type SubjectKind = "admin" | "puller" | "htpasswd" | "jwt" | "token" | "anonymous";

/** Who is asking, and everything they may do. */
export interface Subject {
  kind: SubjectKind;
  /** Account name, or the token's `sub`; never a secret. */
  name: string;
  rules: readonly AccessRule[];
  /**
   * For bearer tokens of our own token service: what the client asked the token for. A missing
   * action that was asked for was refused by the policy (403); one that was not asked for only
   * needs a new token (401 with the scope to ask for), as Docker clients expect.
   */
  requested?: readonly Access[];
}

const ANY = () => true;

function rule(type: string, matches: (name: string) => boolean, actions: Iterable<string>): AccessRule {
  return { type, matches, actions: new Set(actions) };
}

/** Every action on every repository, the catalog, and any registry-level resource. */
export function everything(): AccessRule[] {
  return [rule("repository", ANY, ["*"]), rule("registry", ANY, ["*"])];
}

export function pullEverywhere(): AccessRule[] {
  return [rule("repository", ANY, ["pull"])];
}

/** `auth.htpasswd.access`: repository glob → actions. */
export function globRules(map: Record<string, readonly string[]>): AccessRule[] {
  return Object.entries(map).map(([glob, actions]) => {
    const pattern = compileRepositoryGlob(glob);
    return rule("repository", (name) => pattern.test(name), actions);
  });
}

/** A token's `access` claim: exact names only — a `*` in a claimed name is not a wildcard. */
export function claimRules(access: readonly Access[]): AccessRule[] {
  return access.map((a) => rule(a.type, (name) => name === a.name, a.actions));
}

export function allows(subject: Subject, type: string, name: string, action: string): boolean {
  return subject.rules.some((r) => r.type === type && (r.actions.has("*") || r.actions.has(action)) && r.matches(name));
}

/** The part of `needed` the subject may not do (empty: allowed). */
export function missingAccess(subject: Subject, needed: readonly Access[]): Access[] {
  const missing: Access[] = [];
  for (const n of needed) {
    const actions = n.actions.filter((a) => !allows(subject, n.type, n.name, a));
    if (actions.length > 0) missing.push({ type: n.type, name: n.name, actions });
  }
  return missing;
}

/** What a token for `requested` may carry: each entry cut down to the allowed actions. */
export function grantable(subject: Subject, requested: readonly Access[]): Access[] {
  return requested.map((r) => ({ type: r.type, name: r.name, actions: r.actions.filter((a) => allows(subject, r.type, r.name, a)) }));
}

/** Whether the client asked its token for this action (see Subject.requested). */
export function wasRequested(subject: Subject, access: Access): boolean {
  return (subject.requested ?? []).some(
    (r) => r.type === access.type && r.name === access.name && access.actions.every((a) => r.actions.includes(a)),
  );
}
