import { promises as fs } from "node:fs";
import path from "node:path";
import type { Checksum as ImportChecksum, ImportSource } from "../importer/index.js";
import { cviRepository, CVI_TAG } from "./names.js";
import type { Checksum, ClusterVirtualImage, CviStatus } from "./types.js";

/** A data source that cannot be used yet or at all, with what a person should do about it. */
export class SourceProblem extends Error {
  constructor(
    /** DatasourceReady's reason. */
    readonly reason: string,
    message: string,
    /** Worth trying again later by itself (a secret not mounted yet, an image not Ready yet). */
    readonly waiting: boolean,
  ) {
    super(message);
  }
}

export function checksumsOf(checksum: Checksum | undefined): ImportChecksum[] {
  return Object.entries(checksum ?? {})
    .filter(([, hex]) => typeof hex === "string")
    .map(([algorithm, hex]) => ({ algorithm: algorithm as ImportChecksum["algorithm"], hex: hex as string }));
}

/** `caBundle` is base64 of PEM in the CRD; the importer takes the PEM text. */
function pem(caBundle: string | undefined): string | undefined {
  return caBundle ? Buffer.from(caBundle, "base64").toString("utf8") : undefined;
}

export interface ResolvedSource {
  source: ImportSource;
  /** Repositories of this registry the import reads (a cross-repository mount needs pull there). */
  reads: string[];
}

/**
 * The importer source of a non-Upload image. `lookup` reads another ClusterVirtualImage (for
 * ObjectRef); `secretsDir` is where imagePullSecrets are mounted.
 */
export async function resolveSource(
  cvi: ClusterVirtualImage,
  secretsDir: string | undefined,
  lookup: (name: string) => Promise<ClusterVirtualImage | undefined>,
): Promise<ResolvedSource> {
  const ds = cvi.spec.dataSource;
  switch (ds.type) {
    case "HTTP":
      return { source: { type: "http", url: ds.http!.url, caBundle: pem(ds.http!.caBundle) }, reads: [] };
    case "ContainerImage": {
      const ci = ds.containerImage!;
      let authFile: string | undefined;
      if (ci.imagePullSecret) {
        const { namespace, name } = ci.imagePullSecret;
        if (!secretsDir) {
          throw new SourceProblem("ContainerRegistrySecretNotFound", `imagePullSecret ${namespace}/${name} is set but dvcr has no secrets folder configured (cvi.secretsDir)`, false);
        }
        authFile = path.join(secretsDir, namespace, name, ".dockerconfigjson");
        try {
          await fs.access(authFile);
        } catch {
          throw new SourceProblem("ContainerRegistrySecretNotFound", `imagePullSecret ${namespace}/${name} not found: expected a docker config at ${authFile}`, true);
        }
      }
      return { source: { type: "registry", image: ci.image, authFile, caBundle: pem(ci.caBundle) }, reads: [] };
    }
    case "ObjectRef": {
      const ref = ds.objectRef!;
      if (ref.kind !== "ClusterVirtualImage") {
        throw new SourceProblem(
          "DatasourceNotSupported",
          `an ObjectRef to a ${ref.kind} cannot be provisioned by dvcr: only ClusterVirtualImage references are served here; use a ClusterVirtualImage, HTTP or ContainerImage source`,
          false,
        );
      }
      if (ref.name === cvi.metadata.name) throw new SourceProblem("DatasourceNotSupported", "a ClusterVirtualImage cannot refer to itself", false);
      const other = await lookup(ref.name);
      if (!other) throw new SourceProblem("ClusterImageNotFound", `ClusterVirtualImage ${ref.name} not found: create it, or point objectRef at an existing one`, true);
      const phase = (other.status as CviStatus | undefined)?.phase;
      if (phase !== "Ready") throw new SourceProblem("ClusterImageNotReady", `waiting for ClusterVirtualImage ${ref.name} to be Ready (it is ${phase ?? "Pending"})`, true);
      const repository = cviRepository(ref.name);
      return { source: { type: "dvcr", repository, reference: CVI_TAG }, reads: [repository] };
    }
    case "Upload":
      throw new Error("an Upload image has no source to resolve: its bytes come from the upload URL");
  }
}
