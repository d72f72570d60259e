import { rmSync } from "node:fs";
import path from "node:path";
import { SqliteMetadata } from "../../src/meta/index.js";
import { metadataContract } from "../contracts/metadata.js";
import { tempDir } from "../helpers/server.js";

metadataContract("sqlite", {
  async open(clock, options = {}) {
    const dir = tempDir("dvcr-meta-");
    const meta = SqliteMetadata.open(path.join(dir, "meta.db"), { clock, ...options });
    const close = meta.close.bind(meta);
    return Object.assign(meta, {
      async close() {
        await close();
        rmSync(dir, { recursive: true, force: true });
      },
    });
  },
});
