import * as v from "valibot";
import { nonEmpty, object } from "../oci/schema.js";

/**
 * distribution's access vocabulary: a resource (`repository:cvi/x`, `registry:catalog`) and the
 * actions on it. The same shape is a token's `access` claim, a token request's `scope` and a
 * challenge's `scope`, so it is defined once here.
 */
export interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** A token's `access` claim: `[{"type":"repository","name":"cvi/x","actions":["pull","push"]}]`. */
export const AccessClaimSchema = v.array(object({ type: nonEmpty, name: nonEmpty, actions: v.array(v.string()) }));

/**
 * Parse `repository:cvi/x:pull,push`. The name sits between the first and the last colon, so
 * a name carrying a registry host with a port (`repository:host:5000/x:pull`) stays whole.
 */
export function parseScope(text: string): Access | undefined {
  const first = text.indexOf(":");
  const last = text.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  const name = text.slice(first + 1, last);
  const actions = text.slice(last + 1).split(",").filter((a) => a !== "");
  if (name === "" || actions.length === 0) return undefined;
  return { type: text.slice(0, first), name, actions: [...new Set(actions)] };
}

export function formatScope(access: Access): string {
  return `${access.type}:${access.name}:${access.actions.join(",")}`;
}

/** Merge entries that name the same resource (a token request may repeat `scope`). */
export function mergeAccess(entries: Access[]): Access[] {
  const byResource = new Map<string, Access>();
  for (const e of entries) {
    const key = `${e.type}\u0000${e.name}`;
    const seen = byResource.get(key);
    if (seen) seen.actions = [...new Set([...seen.actions, ...e.actions])];
    else byResource.set(key, { type: e.type, name: e.name, actions: [...new Set(e.actions)] });
  }
  return [...byResource.values()];
}
