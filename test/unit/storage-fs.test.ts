import { rmSync } from "node:fs";
import { FsBlobStorage } from "../../src/storage/index.js";
import { blobStorageContract } from "../contracts/blob-storage.js";
import { tempDir } from "../helpers/server.js";

blobStorageContract("fs", {
  async open() {
    const root = tempDir("dvcr-storage-");
    const storage = new FsBlobStorage(root, { fsync: true, directIo: true, reserve: { bytes: 0, percent: 0 } });
    return { storage, dispose: async () => rmSync(root, { recursive: true, force: true }) };
  },
});
