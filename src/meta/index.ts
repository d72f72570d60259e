export * from "./metadata.js";
export * from "./records.js";
