import type { ImportDestination, ImportRequest, ImportResult } from "../importer/index.js";

/** The importer engine as the controller sees it (injected at assembly: swappable, no engine internals). */
export type ImportRunner = (request: ImportRequest) => Promise<ImportResult>;

/** What the controller needs of the registry it provisions into. */
export interface CviRegistryPort {
  /** Where imports push, with the credentials to do it (`pull` also on `sources`, for a cross-repository mount). */
  destination(repository: string, tag: string, sources: string[]): Promise<ImportDestination>;
  /** Remove a repository with its tags and manifests (GC frees the bytes). */
  deleteRepository(repository: string): Promise<void>;
  /** Whether `repository:tag` resolves to a manifest whose blobs are all stored. */
  imageIntact(repository: string, tag: string): Promise<boolean>;
}

export interface CviSettings {
  registryHost: string;
  uploadURL: { external: string; inCluster: string };
  uploadTimeoutMs: number;
  secretsDir?: string;
  progressIntervalMs: number;
  /** Where upload bodies are staged so a dropped upload can resume (`curl -C`). */
  stagingDir: string;
  /** How often Ready images are checked for a lost manifest or blob. */
  lostCheckIntervalMs: number;
}
