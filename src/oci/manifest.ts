import { RegistryError } from "./errors.js";
import { parseDigest } from "./digest.js";
import { MediaType, isManifestMediaType, type ManifestMediaType } from "./media-types.js";
import * as v from "valibot";
import { object, record, validate } from "./schema.js";

/** Manifests larger than this are refused (the spec lets registries set a limit; 4 MiB is common). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const digestString = v.pipe(
  v.string(),
  v.check((s) => {
    try {
      parseDigest(s);
      return true;
    } catch {
      return false;
    }
  }, "invalid digest"),
);

const mediaTypeString = v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/, "invalid media type"));
const annotations = record(v.string(), v.string());

export const DescriptorSchema = object({
  mediaType: mediaTypeString,
  digest: digestString,
  size: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
  urls: v.optional(v.array(v.string())),
  annotations: v.optional(annotations),
  artifactType: v.optional(mediaTypeString),
  data: v.optional(v.string()),
  platform: v.optional(v.unknown()),
});
export type Descriptor = v.InferOutput<typeof DescriptorSchema>;

const ImageManifestSchema = object({
  schemaVersion: v.literal(2),
  mediaType: v.optional(v.string()),
  artifactType: v.optional(mediaTypeString),
  config: DescriptorSchema,
  layers: v.array(DescriptorSchema),
  subject: v.optional(DescriptorSchema),
  annotations: v.optional(annotations),
});

const IndexSchema = object({
  schemaVersion: v.literal(2),
  mediaType: v.optional(v.string()),
  artifactType: v.optional(mediaTypeString),
  manifests: v.array(DescriptorSchema),
  subject: v.optional(DescriptorSchema),
  annotations: v.optional(annotations),
});

/** A manifest after validation: what the registry needs to know to store and index it. */
export interface ParsedManifest {
  mediaType: ManifestMediaType;
  /** Blobs the manifest needs (config and layers); must exist in the repository. */
  blobs: Descriptor[];
  /** Child manifests (index entries); must exist in the repository. */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** artifactType as the referrers API reports it (artifactType, else config.mediaType). */
  artifactType?: string;
  annotations?: Record<string, string>;
}

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError("MANIFEST_INVALID", message, { detail });
}

/** Media types that name "some JSON" rather than a manifest kind; the body's mediaType decides. */
const GENERIC_CONTENT_TYPES = new Set(["", "application/json", "application/octet-stream"]);

/**
 * Parse and validate a manifest body. `contentType` is the PUT's Content-Type header; the
 * image-spec requires it to agree with the body's mediaType when both are present.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw invalid("manifest is not valid JSON", { reason: (err as Error).message });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw invalid("manifest must be a JSON object");
  const declared = (json as { mediaType?: unknown }).mediaType;
  if (declared !== undefined && typeof declared !== "string") throw invalid("mediaType must be a string");

  const header = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  let mediaType: string;
  if (!GENERIC_CONTENT_TYPES.has(header)) {
    if (declared !== undefined && declared !== header) {
      throw invalid("Content-Type does not match the manifest's mediaType", { contentType: header, mediaType: declared });
    }
    mediaType = header;
  } else if (declared !== undefined) {
    mediaType = declared;
  } else if ("manifests" in json) {
    mediaType = MediaType.OciIndex;
  } else {
    mediaType = MediaType.OciManifest;
  }
  if (!isManifestMediaType(mediaType)) {
    throw invalid(`unsupported manifest media type ${mediaType}`, { mediaType });
  }
  // Docker schema2 documents must carry their mediaType (it is how clients tell them apart).
  if ((mediaType === MediaType.DockerManifest || mediaType === MediaType.DockerManifestList) && declared === undefined) {
    throw invalid("Docker manifests must declare mediaType");
  }

  if (mediaType === MediaType.OciManifest || mediaType === MediaType.DockerManifest) {
    const parsed = validate(ImageManifestSchema, json);
    if (!parsed.success) throw invalid("manifest does not match the image manifest schema", { issues: parsed.issues });
    const m = parsed.data;
    return {
      mediaType,
      blobs: [m.config, ...m.layers],
      manifests: [],
      subject: m.subject,
      artifactType: m.artifactType ?? m.config.mediaType,
      annotations: m.annotations,
    };
  }
  const parsed = validate(IndexSchema, json);
  if (!parsed.success) throw invalid("manifest does not match the image index schema", { issues: parsed.issues });
  const idx = parsed.data;
  return {
    mediaType,
    blobs: [],
    manifests: idx.manifests,
    subject: idx.subject,
    artifactType: idx.artifactType,
    annotations: idx.annotations,
  };
}

/** Layers that live outside the registry (Docker foreign layers, OCI non-distributable with urls). */
export function isExternalBlob(d: Descriptor): boolean {
  return (d.mediaType === MediaType.DockerForeignLayer || d.mediaType.includes(".nondistributable.")) && (d.urls?.length ?? 0) > 0;
}
