import { sha256 } from "../../helpers/client.js";
import { MediaType, type Descriptor } from "../../../src/oci/index.js";

/** Which family of media types an image uses: OCI (podman's default) or Docker schema2 (go-containerregistry's). */
export type ImageFlavour = "oci" | "docker";

export interface Blob {
  bytes: Buffer;
  descriptor: Descriptor;
}

export function layerMediaType(flavour: ImageFlavour, gzip: boolean): string {
  if (flavour === "oci") return gzip ? MediaType.OciLayerTarGzip : MediaType.OciLayerTar;
  return gzip ? MediaType.DockerLayerTarGzip : MediaType.DockerLayerTar;
}

function jsonBlob(mediaType: string, document: unknown): Blob {
  const bytes = Buffer.from(JSON.stringify(document));
  return { bytes, descriptor: { mediaType, digest: sha256(bytes), size: bytes.length } };
}

/**
 * The image config of a one-layer disk image, with the fields DVCR's importer fills in
 * (author, working dir, one history entry) and `labels` under `config.Labels`.
 */
export function diskImageConfig(flavour: ImageFlavour, diffId: string, labels: Record<string, string> = {}): Blob {
  const created = new Date().toISOString();
  return jsonBlob(flavour === "oci" ? MediaType.OciConfig : MediaType.DockerConfig, {
    architecture: "amd64",
    os: "linux",
    author: "DVCR client",
    created,
    config: { Labels: labels, WorkingDir: "/" },
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ author: "DVCR client", created, comment: "streamed from the datasource" }],
  });
}

export function imageManifest(flavour: ImageFlavour, config: Descriptor, layer: Descriptor): Blob {
  const mediaType = flavour === "oci" ? MediaType.OciManifest : MediaType.DockerManifest;
  return jsonBlob(mediaType, { schemaVersion: 2, mediaType, config, layers: [layer] });
}
