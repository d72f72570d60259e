import { closest, distance } from "fastest-levenshtein";
import { formatIssue, type Issue, type Path } from "../oci/schema.js";

/**
 * Unknown configuration keys are refused, by path, with the nearest known key: a typo such as
 * `tsl:` or `auht:` must stop the start, not quietly serve an open plain-HTTP registry.
 */

/** The known key `unknown` was most likely meant to be (within two edits, or a case slip), if any. */
export function suggestKey(unknown: string, known: string[]): string | undefined {
  if (known.length === 0) return undefined;
  const lower = known.find((k) => k.toLowerCase() === unknown.toLowerCase());
  if (lower) return lower;
  const nearest = closest(unknown, known);
  return distance(unknown, nearest) <= Math.max(2, Math.floor(unknown.length / 4)) ? nearest : undefined;
}

/** One validation issue as `path: message`, an unknown key with its suggestion. */
export function describeIssue(issue: Issue): string {
  if (!issue.knownKeys) return formatIssue(issue);
  const at = (path: Path) => path.map(String).join(".");
  const parent = issue.path.slice(0, -1);
  const suggestion = suggestKey(String(issue.path.at(-1)), issue.knownKeys);
  return `${at(issue.path)}: unknown key${suggestion ? ` (did you mean ${at([...parent, suggestion])}?)` : ` (known here: ${issue.knownKeys.join(", ")})`}`;
}
