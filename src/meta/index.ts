export * from "./metadata.js";
export * from "./records.js";
export * from "./objects.js";
export * from "./sqlite/root-lock.js";
export { SqliteMetadata } from "./sqlite/sqlite-metadata.js";
