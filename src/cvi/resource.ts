import { humanDuration } from "../kube/age.js";
import type { KubeObject } from "../kube/object-store.js";
import type { ResourceDefinition } from "../kube/resource.js";
import { OBJECT_META_SCHEMA, type FieldSchema } from "../kube/schema.js";
import { CVI_FINALIZER, CVI_GROUP, CVI_KIND, CVI_VERSION } from "./names.js";
import type { CviStatus } from "./types.js";
import { validateClusterVirtualImage, validateClusterVirtualImageUpdate } from "./validation.js";

const CHECKSUM: FieldSchema = { fields: { md5: true, sha1: true, sha256: true, sha512: true } };

/** The CRD's structural schema: what is not here is pruned (or refused under fieldValidation=Strict). */
const CVI_SCHEMA: FieldSchema = {
  fields: {
    apiVersion: true,
    kind: true,
    metadata: OBJECT_META_SCHEMA,
    spec: {
      fields: {
        dataSource: {
          fields: {
            type: true,
            http: { fields: { url: true, caBundle: true, checksum: CHECKSUM } },
            containerImage: { fields: { image: true, imagePullSecret: { fields: { name: true, namespace: true } }, caBundle: true } },
            objectRef: { fields: { kind: true, name: true, namespace: true } },
            upload: { fields: { checksum: CHECKSUM } },
          },
        },
      },
    },
    // Written by the controller through /status, which is trusted.
    status: true,
  },
};

function statusOf(object: KubeObject): CviStatus {
  return (object.status ?? {}) as CviStatus;
}

/** ClusterVirtualImage as DVCR's CRD serves it: names, validation and printer columns. */
export const CLUSTER_VIRTUAL_IMAGE: ResourceDefinition = {
  group: CVI_GROUP,
  version: CVI_VERSION,
  kind: CVI_KIND,
  listKind: `${CVI_KIND}List`,
  plural: "clustervirtualimages",
  singular: "clustervirtualimage",
  shortNames: ["cvi", "cvis"],
  categories: ["virtualization"],
  schema: CVI_SCHEMA,
  finalizer: CVI_FINALIZER,
  validate: validateClusterVirtualImage,
  validateUpdate: validateClusterVirtualImageUpdate,
  columns: [
    { name: "Name", type: "string", format: "name", description: "Name must be unique within a namespace.", priority: 0 },
    { name: "Phase", type: "string", format: "", description: "The image's phase.", priority: 0 },
    { name: "CDROM", type: "boolean", format: "", description: "Whether the image is an ISO (CD-ROM).", priority: 0 },
    { name: "Progress", type: "string", format: "", description: "Provisioning progress.", priority: 0 },
    { name: "Stored Size", type: "string", format: "", description: "Bytes the image takes in the registry.", priority: 1 },
    { name: "Unpacked Size", type: "string", format: "", description: "Bytes of the unpacked disk.", priority: 1 },
    { name: "Registry URL", type: "string", format: "", description: "Where the image is stored.", priority: 1 },
    { name: "Age", type: "date", format: "", description: "CreationTimestamp of the object.", priority: 0 },
  ],
  cells(object: KubeObject, now: number): unknown[] {
    const s = statusOf(object);
    const created = Date.parse(object.metadata.creationTimestamp);
    return [
      object.metadata.name,
      s.phase ?? "",
      s.cdrom ?? false,
      s.progress ?? "",
      s.size?.stored ?? "",
      s.size?.unpacked ?? "",
      s.target?.registryURL ?? "",
      humanDuration(now - created),
    ];
  },
};
