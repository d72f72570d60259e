export * from "./deadline.js";
export * from "./errors.js";
export * from "./inspect.js";
export * from "./layer-stream.js";
export * from "./limits.js";
export * from "./types.js";
export { detectDisk } from "./formats/detect.js";
export { walkTar, type DiskEntry, type WalkDecision, type WalkResult } from "./tar-walk.js";
