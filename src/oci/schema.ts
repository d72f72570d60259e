import * as v from "valibot";

/**
 * What dvcr adds to valibot for the shapes it checks (manifests, token claims, admin request
 * bodies, the configuration): issues as plain `{ path, message }` values, since they go into
 * MANIFEST_INVALID details and one-line configuration errors and valibot's issues carry their
 * whole input; messages in one style ("layers.0.size: must be at least 0"); objects that refuse
 * arrays; and every unknown key of a strict object, with the keys it knows (for suggestions).
 */

export type Path = (string | number)[];

export interface Issue {
  path: Path;
  message: string;
  /** Set for a key a strict object does not know: the keys it does. */
  knownKeys?: string[];
}

export type ParseResult<T> = { success: true; data: T } | { success: false; issues: Issue[] };

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// valibot's objects and records take any non-null object, arrays too (typeof [] is "object"):
// an empty array would pass as a body of defaults.
const jsonObject = () => v.custom<Record<string, unknown>>(isJsonObject, (issue) => `expected object, received ${kindOf(issue.input)}`);

/** An object whose unknown keys are refused (configuration, request bodies). */
export const strictObject = <const E extends v.ObjectEntries>(entries: E) => v.pipe(jsonObject(), v.strictObject(entries));

/** An object whose unknown keys are dropped (documents that other specs may extend). */
export const object = <const E extends v.ObjectEntries>(entries: E) => v.pipe(jsonObject(), v.object(entries));

/** An object of any keys the key schema takes, each value checked (annotations, access maps). */
export const record = <const K extends v.GenericSchema<string, string>, const V extends v.GenericSchema>(key: K, value: V) => v.pipe(jsonObject(), v.record(key, value));

/** A number, or a string (such as "1h" or "256MiB") for a conversion to read. */
export const numberOrString = () => v.union([v.pipe(v.number(), v.finite()), v.string()]);

/** A string that must not be empty (a name, a path). */
export const nonEmpty = v.pipe(v.string(), v.minLength(1));

/** An integer of at least `min`. */
export const intAtLeast = (min: number) => v.pipe(v.number(), v.integer(), v.minValue(min));

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** What valibot says an issue's schema expects, without the parentheses it puts around options. */
const expected = (issue: v.BaseIssue<unknown>) => String(issue.expected).replace(/^\((.*)\)$/, "$1");

/** The message of an issue whose schema or action was given none. */
function describe(issue: v.BaseIssue<unknown>): string {
  const n = issue.requirement as number;
  switch (issue.type) {
    case "min_length":
      return Array.isArray(issue.input) ? `must have at least ${plural(n, "item")}` : `must be at least ${plural(n, "character")} long`;
    case "min_value":
      return `must be at least ${n}`;
    case "max_value":
      return `must be at most ${n}`;
    case "gt_value":
      return `must be greater than ${n}`;
    case "integer":
      return "expected an integer";
    case "finite":
      return "expected a finite number";
    case "literal":
      return `expected ${issue.expected}`;
    case "picklist":
      return `expected one of ${expected(issue)}`;
  }
  if (issue.path?.at(-1)?.origin === "key") return issue.expected === "never" ? "unknown key" : "missing (required)";
  if (issue.kind === "schema") return `expected ${expected(issue).toLowerCase().replaceAll(" | ", " or ")}, received ${kindOf(issue.input)}`;
  return issue.message;
}

/** The parts of a schema that lead to nested schemas (valibot keeps them on the schema object). */
interface SchemaNode {
  kind: string;
  wrapped?: SchemaNode;
  pipe?: SchemaNode[];
  entries?: Record<string, SchemaNode>;
  item?: SchemaNode;
  value?: SchemaNode;
}

/** Through optional wrappers and pipes (whose last schema is the container: see `strictObject`). */
function unwrap(node: SchemaNode): SchemaNode {
  if (node.wrapped) return unwrap(node.wrapped);
  const inner = node.entries ? undefined : node.pipe?.filter((item) => item.kind === "schema").at(-1);
  return inner ? unwrap(inner) : node;
}

/** The entries of the object schema at `path` under `schema`. */
function entriesAt(schema: SchemaNode, path: Path): Record<string, SchemaNode> {
  let node = unwrap(schema);
  for (const key of path) {
    const next = node.entries?.[key] ?? node.item ?? node.value;
    if (!next) return {};
    node = unwrap(next);
  }
  return node.entries ?? {};
}

function toIssues(schema: v.GenericSchema, issue: v.BaseIssue<unknown>): Issue[] {
  const path = (issue.path ?? []).map((item) => item.key as string | number);
  const last = issue.path?.at(-1);
  if (issue.type !== "strict_object" || issue.expected !== "never" || !last) return [{ path, message: issue.message }];
  // valibot reports the first unknown key of an object; every one is named, with the known keys.
  const parent = path.slice(0, -1);
  const entries = entriesAt(schema as unknown as SchemaNode, parent);
  const known = Object.keys(entries);
  return Object.keys(last.input as object)
    .filter((key) => !Object.hasOwn(entries, key))
    .map((key) => ({ path: [...parent, key], message: "unknown key", knownKeys: known }));
}

/** Validate `input`: its value, or every issue (the first of each pipe) with its path. */
export function validate<S extends v.GenericSchema>(schema: S, input: unknown): ParseResult<v.InferOutput<S>> {
  const result = v.safeParse(schema, input, { abortPipeEarly: true, message: describe });
  if (result.success) return { success: true, data: result.output };
  return { success: false, issues: result.issues.flatMap((issue) => toIssues(schema, issue)) };
}

/** One issue as `path: message`. */
export function formatIssue(issue: Issue, root = "(root)"): string {
  return `${issue.path.map(String).join(".") || root}: ${issue.message}`;
}
