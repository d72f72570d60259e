import type { KubeObject } from "../kube/object-store.js";
import type { DataSourceType } from "./validation.js";

/** The phases of a ClusterVirtualImage (DVCR's CRD). */
export type CviPhase = "Pending" | "WaitForUserUpload" | "Provisioning" | "Ready" | "Failed" | "Terminating" | "ImageLost";

export interface Checksum {
  md5?: string;
  sha1?: string;
  sha256?: string;
  sha512?: string;
}

export interface CviSpec {
  dataSource: {
    type: DataSourceType;
    http?: { url: string; caBundle?: string; checksum?: Checksum };
    containerImage?: { image: string; imagePullSecret?: { name: string; namespace: string }; caBundle?: string };
    objectRef?: { kind: string; name: string; namespace?: string };
    upload?: { checksum?: Checksum };
  };
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

export interface CviStatus {
  phase?: CviPhase;
  progress?: string;
  downloadSpeed?: { avg: string; avgBytes: string; current: string; currentBytes: string };
  size?: { stored: string; storedBytes: string; unpacked: string; unpackedBytes: string };
  format?: string;
  cdrom?: boolean;
  observedGeneration?: number;
  target?: { registryURL: string };
  imageUploadURLs?: { external: string; inCluster: string };
  conditions?: Condition[];
  sourceUID?: string;
}

export interface ClusterVirtualImage extends KubeObject {
  spec: CviSpec;
  status?: CviStatus;
}
