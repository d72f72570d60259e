/**
 * The persistence port of the Kubernetes-style API is the metadata's object store
 * (meta/objects.ts); its types are re-exported here for the API machinery.
 */
export * from "../meta/objects.js";
export type { ObjectMetadata as KubeObjectStore } from "../meta/objects.js";
