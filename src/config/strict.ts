import { closest, distance } from "fastest-levenshtein";
import { z } from "zod";

/**
 * Unknown configuration keys are refused, by path, with the nearest known key: a typo such as
 * `tsl:` or `auht:` must stop the start, not quietly serve an open plain-HTTP registry.
 */

/** The object schema at `path` inside `schema` (through optional wrappers), if there is one. */
function objectAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodObject | undefined {
  let current: z.ZodType | undefined = schema;
  for (const key of [...path, undefined]) {
    while (current instanceof z.ZodOptional || current instanceof z.ZodDefault) current = current.unwrap() as z.ZodType;
    if (!(current instanceof z.ZodObject)) return undefined;
    if (key === undefined) return current;
    current = (current.shape as Record<string, z.ZodType>)[String(key)];
  }
  return undefined;
}

/** The known key `unknown` was most likely meant to be (within two edits, or a case slip), if any. */
export function suggestKey(unknown: string, known: string[]): string | undefined {
  if (known.length === 0) return undefined;
  const lower = known.find((k) => k.toLowerCase() === unknown.toLowerCase());
  if (lower) return lower;
  const nearest = closest(unknown, known);
  return distance(unknown, nearest) <= Math.max(2, Math.floor(unknown.length / 4)) ? nearest : undefined;
}

/** One validation issue as `path: message`, unknown keys each with their suggestion. */
export function describeIssue(schema: z.ZodType, issue: z.core.$ZodIssue): string {
  const at = (path: readonly PropertyKey[]) => path.map(String).join(".") || "(root)";
  if (issue.code !== "unrecognized_keys") return `${at(issue.path)}: ${issue.message}`;
  const known = Object.keys(objectAt(schema, issue.path)?.shape ?? {});
  return issue.keys
    .map((key) => {
      const suggestion = suggestKey(key, known);
      return `${at([...issue.path, key])}: unknown key${suggestion ? ` (did you mean ${at([...issue.path, suggestion])}?)` : ` (known here: ${known.join(", ")})`}`;
    })
    .join("; ");
}
