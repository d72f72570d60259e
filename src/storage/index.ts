export * from "./blob-storage.js";
export * from "./capacity.js";
export * from "./block-pool.js";
export { FsBlobStorage, type FsBlobStorageOptions } from "./fs/fs-blob-storage.js";
export { StorageLayout } from "./fs/paths.js";
