export * from "./metadata.js";
export * from "./records.js";
export type { DiskImageRecord, DiskImageStatus, ManifestRef, TaggedImage, TaggedImageQuery } from "./disk-index.js";
export * from "./root-lock.js";
export type { BlobRow, DeadManifest, RepositoryActivity } from "./gc.js";
