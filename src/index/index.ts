export * from "./image-entry.js";
export * from "./indexer.js";
export * from "./inspector.js";
export * from "./labels.js";
export * from "./owner.js";
export * from "./query.js";
export * from "./create.js";
export * from "./stats.js";
