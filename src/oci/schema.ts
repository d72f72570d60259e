/**
 * A small, strict validator for parsed JSON and configuration: the shapes dvcr checks (manifests,
 * token claims, admin request bodies, the configuration) and nothing more. It replaces zod, whose
 * package keeps ~5 MiB of an idle server's heap (all ~50 locale modules load with any entry
 * point); every check zod made here is made the same way, every issue keeps its path.
 */

export type Path = (string | number)[];

export interface Issue {
  path: Path;
  message: string;
  /** Set for keys a strict object does not know, with the keys it does (for suggestions). */
  unknownKeys?: { keys: string[]; known: string[] };
}

export type ParseResult<T> = { success: true; data: T } | { success: false; issues: Issue[] };

/** Returned by a check that has recorded its issue: the value is refused. */
const INVALID: unique symbol = Symbol("invalid");
type Checked<T> = T | typeof INVALID;
type Check<T> = (value: unknown, path: Path, issues: Issue[]) => Checked<T>;

export class Schema<T> {
  constructor(readonly check: Check<T>) {}

  safeParse(value: unknown): ParseResult<T> {
    const issues: Issue[] = [];
    const data = this.check(value, [], issues);
    return data === INVALID || issues.length > 0 ? { success: false, issues } : { success: true, data };
  }

  optional(): Schema<T | undefined> {
    return new Schema<T | undefined>((value, path, issues) => (value === undefined ? undefined : this.check(value, path, issues)));
  }

  /** A further condition on a value that passed; `problem` returns why not, or undefined. */
  refine(problem: (value: T) => string | undefined): Schema<T> {
    return new Schema((value, path, issues) => {
      const checked = this.check(value, path, issues);
      if (checked === INVALID) return INVALID;
      const why = problem(checked);
      return why === undefined ? checked : fail(issues, path, why);
    });
  }

  /** A conversion of a value that passed; `convert` throws (its message is the issue) to refuse. */
  transform<U>(convert: (value: T) => U): Schema<U> {
    return new Schema((value, path, issues) => {
      const checked = this.check(value, path, issues);
      if (checked === INVALID) return INVALID;
      try {
        return convert(checked);
      } catch (err) {
        return fail(issues, path, (err as Error).message);
      }
    });
  }
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function fail(issues: Issue[], path: Path, message: string): typeof INVALID {
  issues.push({ path, message });
  return INVALID;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function typed<T>(expected: string, is: (value: unknown) => value is T): Schema<T> {
  return new Schema((value, path, issues) => (is(value) ? value : fail(issues, path, `expected ${expected}, received ${kindOf(value)}`)));
}

export interface StringRules {
  min?: number;
  /** The value must match; `message` says what it must be. */
  pattern?: { regex: RegExp; message: string };
}

export function string(rules: StringRules = {}): Schema<string> {
  const base = typed("string", (v): v is string => typeof v === "string");
  return base.refine((s) => {
    if (rules.min !== undefined && s.length < rules.min) return `must be at least ${rules.min} character${rules.min === 1 ? "" : "s"} long`;
    if (rules.pattern && !rules.pattern.regex.test(s)) return rules.pattern.message;
    return undefined;
  });
}

export interface NumberRules {
  int?: boolean;
  /** Inclusive bounds. */
  min?: number;
  max?: number;
  /** Strictly above zero. */
  positive?: boolean;
}

export function number(rules: NumberRules = {}): Schema<number> {
  const base = typed("number", (v): v is number => typeof v === "number" && Number.isFinite(v));
  return base.refine((n) => {
    if (rules.int && !Number.isInteger(n)) return "expected an integer";
    if (rules.positive && !(n > 0)) return "must be greater than 0";
    if (rules.min !== undefined && n < rules.min) return `must be at least ${rules.min}`;
    if (rules.max !== undefined && n > rules.max) return `must be at most ${rules.max}`;
    return undefined;
  });
}

export function boolean(): Schema<boolean> {
  return typed("boolean", (v): v is boolean => typeof v === "boolean");
}

export function unknown(): Schema<unknown> {
  return new Schema((value) => value);
}

export function literal<const T extends string | number | boolean>(expected: T): Schema<T> {
  return new Schema((value, path, issues) => (value === expected ? expected : fail(issues, path, `expected ${JSON.stringify(expected)}`)));
}

export function oneOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  return new Schema((value, path, issues) =>
    typeof value === "string" && values.includes(value) ? (value as T[number]) : fail(issues, path, `expected one of ${values.map((v) => JSON.stringify(v)).join("|")}`),
  );
}

/** A number, or a string (such as "1h" or "256MiB") for a conversion to read. */
export function numberOrString(): Schema<number | string> {
  return typed("number or string", (v): v is number | string => typeof v === "string" || (typeof v === "number" && Number.isFinite(v)));
}

export function array<T>(item: Schema<T>, rules: { min?: number } = {}): Schema<T[]> {
  return new Schema((value, path, issues) => {
    if (!Array.isArray(value)) return fail(issues, path, `expected array, received ${kindOf(value)}`);
    if (rules.min !== undefined && value.length < rules.min) return fail(issues, path, `must have at least ${rules.min} item${rules.min === 1 ? "" : "s"}`);
    const out: T[] = [];
    let ok = true;
    value.forEach((entry, i) => {
      const checked = item.check(entry, [...path, i], issues);
      if (checked === INVALID) ok = false;
      else out.push(checked);
    });
    return ok ? out : INVALID;
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function record<T>(key: Schema<string>, item: Schema<T>): Schema<Record<string, T>> {
  return new Schema((value, path, issues) => {
    if (!isPlainObject(value)) return fail(issues, path, `expected object, received ${kindOf(value)}`);
    const out: Record<string, T> = {};
    let ok = true;
    for (const [k, v] of Object.entries(value)) {
      const checkedKey = key.check(k, [...path, k], issues);
      const checked = item.check(v, [...path, k], issues);
      if (checkedKey === INVALID || checked === INVALID) ok = false;
      else out[k] = checked;
    }
    return ok ? out : INVALID;
  });
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type Flatten<T> = { [K in keyof T]: T[K] } & {};
export type ObjectOf<S extends Shape> = Flatten<
  { [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }
>;

export class ObjectSchema<S extends Shape> extends Schema<ObjectOf<S>> {
  constructor(
    readonly shape: S,
    readonly strict: boolean,
  ) {
    super((value, path, issues) => {
      if (!isPlainObject(value)) return fail(issues, path, `expected object, received ${kindOf(value)}`);
      const out: Record<string, unknown> = {};
      let ok = true;
      for (const [k, schema] of Object.entries(shape)) {
        const checked = schema.check(value[k], [...path, k], issues);
        if (checked === INVALID) ok = false;
        else if (checked !== undefined) out[k] = checked;
      }
      const unknownKeys = Object.keys(value).filter((k) => !Object.hasOwn(shape, k));
      if (strict && unknownKeys.length > 0) {
        issues.push({ path, message: `unknown key${unknownKeys.length > 1 ? "s" : ""} ${unknownKeys.join(", ")}`, unknownKeys: { keys: unknownKeys, known: Object.keys(shape) } });
        ok = false;
      }
      // A lenient object keeps only the keys it knows, as zod's z.object did.
      return ok ? (out as ObjectOf<S>) : INVALID;
    });
  }
}

/** An object whose unknown keys are refused (configuration, request bodies). */
export function strictObject<S extends Shape>(shape: S): ObjectSchema<S> {
  return new ObjectSchema(shape, true);
}

/** An object whose unknown keys are dropped (documents that other specs may extend). */
export function object<S extends Shape>(shape: S): ObjectSchema<S> {
  return new ObjectSchema(shape, false);
}

/** One issue as `path: message`. */
export function formatIssue(issue: Issue, root = "(root)"): string {
  return `${issue.path.map(String).join(".") || root}: ${issue.message}`;
}
