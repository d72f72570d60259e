import type { Context } from "koa";
import { RegistryError, isRegistryError, parseDigest, parseReference, parseRepositoryName, type Digest, type Reference } from "../oci/index.js";
import type { Page } from "../meta/index.js";

/** Parsers for the parts of a request; every value from the network passes through one. */

export function repositoryParam(ctx: Context): string {
  const raw = ctx.params.name as unknown;
  const name = Array.isArray(raw) ? raw.join("/") : String(raw ?? "");
  return parseRepositoryName(name);
}

export function digestParam(ctx: Context, key = "digest"): Digest {
  return parseDigest(String(ctx.params[key] ?? ""));
}

export function referenceParam(ctx: Context): Reference {
  return parseReference(String(ctx.params.reference ?? ""));
}

/**
 * The reference of a manifest to read or delete. One that is neither a tag nor a digest names
 * no manifest: 404 MANIFEST_UNKNOWN, as the reference registry answers (its router matches no
 * route) and the upstream conformance suite expects. Only a PUT refuses it as TAG_INVALID.
 */
export function lookupReferenceParam(ctx: Context): Reference {
  try {
    return referenceParam(ctx);
  } catch (err) {
    if (isRegistryError(err) && (err.code === "TAG_INVALID" || err.code === "DIGEST_INVALID")) {
      throw new RegistryError("MANIFEST_UNKNOWN", "the reference is neither a tag nor a digest", { detail: { reference: String(ctx.params.reference ?? "").slice(0, 256) } });
    }
    throw err;
  }
}

/** A query parameter given once; repeated ones are ambiguous and refused. */
export function queryParam(ctx: Context, key: string): string | undefined {
  const v = ctx.query[key];
  if (Array.isArray(v)) throw new RegistryError("BAD_REQUEST", `query parameter ${key} given more than once`);
  return v;
}

export function queryParams(ctx: Context, key: string): string[] {
  const v = ctx.query[key];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Upper bound on one page, whatever `n` asks for; a Link header points at the rest. */
export const MAX_PAGE_SIZE = 10_000;

export function pageParams(ctx: Context, validateLast: (last: string) => void): Page {
  const n = queryParam(ctx, "n");
  const last = queryParam(ctx, "last");
  let limit: number | undefined;
  if (n !== undefined) {
    if (!/^\d{1,9}$/.test(n)) {
      throw new RegistryError("PAGINATION_NUMBER_INVALID", "n must be a non-negative integer", { detail: { n } });
    }
    limit = Math.min(Number(n), MAX_PAGE_SIZE);
  }
  if (last !== undefined) validateLast(last);
  return { limit, last };
}

export function linkHeader(path: string, limit: number, next: string): string {
  return `<${path}?n=${limit}&last=${encodeURIComponent(next)}>; rel="next"`;
}

/** Content-Length as a number, or undefined when absent (chunked transfer). */
export function contentLength(ctx: Context): number | undefined {
  const raw = ctx.get("Content-Length");
  if (raw === "") return undefined;
  if (!/^\d+$/.test(raw)) throw new RegistryError("SIZE_INVALID", "invalid Content-Length", { detail: { contentLength: raw } });
  const length = Number(raw);
  if (!Number.isSafeInteger(length)) throw new RegistryError("SIZE_INVALID", "Content-Length larger than any blob can be", { detail: { contentLength: raw.slice(0, 32) } });
  return length;
}

/** Whether the request carries a body at all (length > 0, or chunked). */
export function hasBody(ctx: Context): boolean {
  const length = contentLength(ctx);
  return length !== undefined ? length > 0 : ctx.get("Transfer-Encoding") !== "";
}

/**
 * The spec's chunk header `Content-Range: <start>-<end>` (inclusive); we also accept the
 * RFC 9110 form `bytes <start>-<end>/<total|*>` that some clients send.
 */
export function contentRange(ctx: Context): { start: number; length: number; total?: number } | undefined {
  const raw = ctx.get("Content-Range");
  if (raw === "") return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(\d+|\*))?$/.exec(raw.trim());
  const detail = { contentRange: raw.slice(0, 64) };
  if (!m) throw new RegistryError("BLOB_UPLOAD_INVALID", "invalid Content-Range", { detail });
  const start = Number(m[1]);
  const end = Number(m[2]);
  // Refused before the upload is touched: the session stays as it was for a correct retry.
  if (!Number.isSafeInteger(end)) throw new RegistryError("BLOB_UPLOAD_INVALID", "Content-Range beyond any blob's size", { detail });
  if (end < start) throw new RegistryError("BLOB_UPLOAD_INVALID", "Content-Range ends before it starts", { detail });
  if (m[3] !== undefined && m[3] !== "*" && Number(m[3]) <= end) {
    throw new RegistryError("BLOB_UPLOAD_INVALID", "Content-Range ends beyond its own total size", { detail });
  }
  return { start, length: end - start + 1, ...(m[3] !== undefined && m[3] !== "*" ? { total: Number(m[3]) } : {}) };
}

/** Read a small body (manifests) fully, refusing more than `limit` bytes with 413. */
export async function readBody(ctx: Context, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new RegistryError("BODY_TOO_LARGE", `manifest exceeds the ${limit}-byte limit`, { detail: { limit } });
  const declared = contentLength(ctx);
  if (declared !== undefined && declared > limit) throw tooLarge();
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of ctx.req) {
    total += (chunk as Buffer).length;
    if (total > limit) throw tooLarge();
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

/** Parse `Range: bytes=a-b` against a blob of `size` bytes; null means "send it all". */
export function byteRange(ctx: Context, size: number): { start: number; end: number } | null {
  const raw = ctx.get("Range");
  if (raw === "") return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(raw.trim());
  // Multiple ranges or other units: RFC 9110 lets a server ignore Range and send 200.
  if (!m || (m[1] === "" && m[2] === "")) return null;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    start = Math.max(size - suffix, 0);
    end = size - 1;
    if (suffix === 0) start = size;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== "" && Number(m[2]) < start) return null;
  }
  if (start >= size || start > end) {
    throw new RegistryError("RANGE_INVALID", "requested range not satisfiable", {
      detail: { range: raw, size },
      headers: { "Content-Range": `bytes */${size}` },
    });
  }
  return { start, end };
}
