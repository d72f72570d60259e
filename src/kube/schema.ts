/**
 * What fields an object may carry, as a structural schema does for a custom resource: unknown
 * fields are pruned, or refused under `fieldValidation=Strict` (what kubectl ≥ 1.27 sends for
 * `--validate=true`), with the API server's wording. `true` is a leaf (any value), an object
 * lists its known keys, `map` is a string map, `list` an array of one shape.
 */
export type FieldSchema = true | { fields: Record<string, FieldSchema> } | { map: true } | { list: FieldSchema };

export type FieldValidation = "Strict" | "Warn" | "Ignore";

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Remove unknown fields from `value` in place; return their paths (`spec.foo`, `status.x[0].y`). */
export function pruneUnknown(value: unknown, schema: FieldSchema, path = ""): string[] {
  if (schema === true || "map" in schema) return [];
  if ("list" in schema) {
    if (!Array.isArray(value)) return [];
    return value.flatMap((item, i) => pruneUnknown(item, schema.list, `${path}[${i}]`));
  }
  if (!isPlainObject(value)) return [];
  const unknown: string[] = [];
  for (const key of Object.keys(value)) {
    const child = schema.fields[key];
    const childPath = path ? `${path}.${key}` : key;
    if (child === undefined) {
      unknown.push(childPath);
      delete value[key];
    } else unknown.push(...pruneUnknown(value[key], child, childPath));
  }
  return unknown;
}

/** ObjectMeta as clients send it; the server-managed fields are set by the server. */
export const OBJECT_META_SCHEMA: FieldSchema = {
  fields: {
    name: true,
    generateName: true,
    namespace: true,
    uid: true,
    resourceVersion: true,
    generation: true,
    creationTimestamp: true,
    deletionTimestamp: true,
    deletionGracePeriodSeconds: true,
    labels: { map: true },
    annotations: { map: true },
    finalizers: true,
    ownerReferences: true,
    managedFields: true,
    selfLink: true,
  },
};
