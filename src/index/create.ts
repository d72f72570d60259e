import type { Config } from "../config/config.js";
import { InspectionError } from "../disk/errors.js";
import { DEFAULT_DISK_LIMITS } from "../disk/limits.js";
import type { Metadata } from "../meta/index.js";
import { parseDigest } from "../oci/index.js";
import type { BlobStorage } from "../storage/index.js";
import type { TaskRunner } from "../tasks/index.js";
import { DEFAULT_INDEXER_OPTIONS, DiskIndexer } from "./indexer.js";
import type { BlobReader } from "./record.js";

/** The indexer of a data root, configured by `index:`; it reads committed blobs from the store. */
export function createDiskIndexer(meta: Metadata, storage: BlobStorage, config: Config, tasks: TaskRunner): DiskIndexer {
  const blobs: BlobReader = {
    size: (digest) => meta.blobs.sizeOf(digest),
    open: async (digest, start, end) => {
      const reader = await storage.read(parseDigest(digest), start, end);
      if (!reader) throw new InspectionError(`blob ${digest} is missing from storage`);
      return reader.stream();
    },
  };
  const { checksumConcurrency, checksumTimeout, maxGzipRatio, maxTarEntries } = config.index;
  const options = {
    ...DEFAULT_INDEXER_OPTIONS,
    checksumConcurrency,
    limits: { ...DEFAULT_DISK_LIMITS, checksumTimeoutMs: checksumTimeout, maxGzipRatio, maxEntries: maxTarEntries },
  };
  return new DiskIndexer(meta, blobs, options, tasks);
}
