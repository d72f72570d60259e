export * from "./paths.js";
export * from "./blob-store.js";
export * from "./upload-files.js";
