export * from "./metadata.js";
export * from "./records.js";
export * from "./root-lock.js";
export type { BlobRow, DeadManifest, RepositoryActivity } from "./gc.js";
