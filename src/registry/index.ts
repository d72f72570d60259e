export * from "./blobs.js";
export * from "./uploads.js";
export * from "./manifests.js";
export * from "./single-process.js";
