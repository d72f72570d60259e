import { KubeError } from "./status.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * JSON Merge Patch (RFC 7386), what `kubectl apply` and `kubectl patch --type merge` send for a
 * custom resource: objects merge key by key, `null` removes a key, anything else replaces.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value) as Json;
  }
  return result;
}

/** Parse a request body as JSON, with the API server's wording for garbage. */
export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new KubeError("BadRequest", `the body of the request was in an unknown format: ${(err as Error).message}`);
  }
}
