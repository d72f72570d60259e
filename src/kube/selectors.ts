import { KubeError } from "./status.js";

/**
 * Label and field selectors as the API server parses them (k8s.io/apimachinery labels.Parse,
 * fields.ParseSelector). kubectl 1.20's `delete` waits on a `fieldSelector=metadata.name=x`
 * watch, so a selector that is ignored instead of applied hangs it.
 */
export type LabelRequirement =
  | { key: string; op: "exists" | "!exists" }
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] };

export type Selector = (object: { metadata: { name: string; labels?: Record<string, string> } }) => boolean;

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

function badSelector(kind: string, text: string, why: string): KubeError {
  return new KubeError("BadRequest", `unable to parse requirement: ${kind} selector "${text}": ${why}`);
}

/** Split on commas that are not inside `( … )`. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

function checkKey(key: string, text: string): string {
  if (!LABEL_KEY.test(key) || key.length > 317) throw badSelector("label", text, `invalid label key "${key}"`);
  return key;
}

function checkValue(value: string, text: string): string {
  if (!LABEL_VALUE.test(value) || value.length > 63) throw badSelector("label", text, `invalid label value "${value}"`);
  return value;
}

export function parseLabelSelector(text: string): LabelRequirement[] {
  return splitTopLevel(text).map((part) => {
    let m = /^!\s*(\S+)$/.exec(part);
    if (m) return { key: checkKey(m[1]!, text), op: "!exists" };
    m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(part);
    if (m) {
      const values = m[3]!.split(",").map((v) => checkValue(v.trim(), text));
      return { key: checkKey(m[1]!, text), op: m[2] as "in" | "notin", values };
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
    if (m) return { key: checkKey(m[1]!, text), op: m[2] === "!=" ? "!=" : "=", value: checkValue(m[3]!, text) };
    if (/^[^=!\s()]+$/.test(part)) return { key: checkKey(part, text), op: "exists" };
    throw badSelector("label", text, `cannot parse "${part}"`);
  });
}

export function matchesLabels(requirements: readonly LabelRequirement[], labels: Record<string, string> = {}): boolean {
  return requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    switch (r.op) {
      case "exists":
        return has;
      case "!exists":
        return !has;
      case "=":
        return has && value === r.value;
      case "!=":
        return !has || value !== r.value;
      case "in":
        return has && r.values.includes(value!);
      case "notin":
        return !has || !r.values.includes(value!);
    }
  });
}

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

/**
 * `metadata.name=x,metadata.name!=y`. A cluster-scoped custom resource supports `metadata.name`
 * (and `metadata.namespace`, always empty); any other field is refused as the API server does.
 */
export function parseFieldSelector(text: string, supported: readonly string[]): FieldRequirement[] {
  return splitTopLevel(text).map((part) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw new KubeError("BadRequest", `invalid selector: '${text}'; can't understand '${part}'`);
    const field = m[1]!.trim();
    if (!supported.includes(field)) throw new KubeError("BadRequest", `field label not supported: ${field}`);
    return { field, op: m[2] === "!=" ? "!=" : "=", value: m[3]!.trim() };
  });
}

export function matchesFields(requirements: readonly FieldRequirement[], fields: Record<string, string>): boolean {
  return requirements.every((r) => ((fields[r.field] ?? "") === r.value) === (r.op === "="));
}

/** One predicate from a request's `labelSelector` and `fieldSelector` parameters. */
export function selectorOf(labelSelector: string | undefined, fieldSelector: string | undefined): Selector {
  const labels = labelSelector ? parseLabelSelector(labelSelector) : [];
  const fields = fieldSelector ? parseFieldSelector(fieldSelector, ["metadata.name", "metadata.namespace"]) : [];
  return (object) =>
    matchesLabels(labels, object.metadata.labels) && matchesFields(fields, { "metadata.name": object.metadata.name, "metadata.namespace": "" });
}
