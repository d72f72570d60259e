import type { KubeObject } from "./object-store.js";

/** A column of a meta.k8s.io/v1 Table; priority > 0 shows only with `kubectl get -o wide`. */
export interface ColumnDefinition {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  format: string;
  description: string;
  priority: number;
}

/** What a Table row carries as `object` (`includeObject`): nothing, the metadata, or the object. */
export type IncludeObject = "None" | "Metadata" | "Object";

export interface Table {
  kind: "Table";
  apiVersion: "meta.k8s.io/v1";
  metadata: { resourceVersion?: string; continue?: string };
  columnDefinitions: ColumnDefinition[];
  rows: { cells: unknown[]; object?: unknown }[];
}

function rowObject(object: KubeObject, include: IncludeObject): unknown {
  if (include === "None") return undefined;
  if (include === "Object") return object;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata };
}

/**
 * The server-side printing kubectl asks for with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`:
 * kubectl prints the cells as given, so every cell (AGE included) is already the text to show.
 */
export function tableOf(
  objects: KubeObject[],
  columns: ColumnDefinition[],
  cells: (o: KubeObject) => unknown[],
  include: IncludeObject,
  metadata: Table["metadata"],
): Table {
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata,
    columnDefinitions: columns,
    rows: objects.map((o) => ({ cells: cells(o), object: rowObject(o, include) })),
  };
}

/**
 * Whether the client asked for a Table: kubectl lists `as=Table;v=v1;g=meta.k8s.io` (and v1beta1,
 * then plain JSON as fallback) in Accept. We serve the v1 Table only.
 */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(",").some((part) => {
    const params = new Map(
      part
        .split(";")
        .slice(1)
        .map((p) => p.trim().split("=") as [string, string]),
    );
    return params.get("as") === "Table" && params.get("g") === "meta.k8s.io" && params.get("v") === "v1";
  });
}
