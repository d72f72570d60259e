import { createHash } from "node:crypto";
import { MediaType, type Descriptor } from "../oci/index.js";
import type { DiskHeader } from "../disk/index.js";

export type ManifestFormat = "docker" | "oci";

/** A JSON blob (config or manifest) ready to push. */
export interface JsonBlob {
  bytes: Buffer;
  descriptor: Descriptor;
}

function jsonBlob(mediaType: string, document: unknown): JsonBlob {
  const bytes = Buffer.from(JSON.stringify(document));
  return { bytes, descriptor: { mediaType, digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}`, size: bytes.length } };
}

/** The labels DVCR's importer records in `config.Labels`. */
export function diskLabels(diskBytes: number, header: DiskHeader): Record<string, string> {
  return {
    "erofs-compatible-layers": "true",
    "source-image-size": String(diskBytes),
    "source-image-virtual-size": String(header.virtualSize),
    "source-image-format": header.format,
  };
}

export function layerMediaType(format: ManifestFormat): string {
  return format === "oci" ? MediaType.OciLayerTar : MediaType.DockerLayerTar;
}

/** The config of a `FROM scratch` one-layer disk image, with the fields DVCR's importer fills in. */
export function diskImageConfig(format: ManifestFormat, diffId: string, labels: Record<string, string>): JsonBlob {
  const created = new Date().toISOString();
  return jsonBlob(format === "oci" ? MediaType.OciConfig : MediaType.DockerConfig, {
    architecture: "amd64",
    os: "linux",
    author: "dvcr importer",
    created,
    config: { Labels: labels, WorkingDir: "/" },
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ author: "dvcr importer", created, comment: "streamed from the datasource" }],
  });
}

export function diskImageManifest(format: ManifestFormat, config: Descriptor, layer: Descriptor): JsonBlob {
  const mediaType = format === "oci" ? MediaType.OciManifest : MediaType.DockerManifest;
  return jsonBlob(mediaType, { schemaVersion: 2, mediaType, config, layers: [layer] });
}
