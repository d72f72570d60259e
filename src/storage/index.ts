export * from "./paths.js";
export * from "./blob-store.js";
export * from "./upload-files.js";
export * from "./capacity.js";
export * from "./blob-claims.js";
export * from "./range-pump.js";
export * from "./block-pool.js";
