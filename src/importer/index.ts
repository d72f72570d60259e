/** The importer: sources (HTTP, registry, another repository, file, upload) → disk image → push. */
export { importImage } from "./engine.js";
export { ImportError, isImportError, OUT_OF_SPACE, type ImportFailureKind } from "./errors.js";
export { parseChecksumList, validateChecksums } from "./checksums.js";
export { parseImageReference, type ImageReference } from "./endpoints.js";
export { credentialsFromAuthFile } from "./registry-auth.js";
export type * from "./types.js";
