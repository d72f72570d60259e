import { promises as fs } from "node:fs";
import type { OpenRegistry } from "../assembly/open-registry.js";
import { secretText } from "../config/watched-file.js";
import type { ImportDestination } from "../importer/index.js";
import { isExternalBlob, parseDigest, parseManifest, parseReference, type Descriptor } from "../oci/index.js";
import type { CviRegistryPort } from "./ports.js";

/**
 * The registry as the CVI controller uses it, in process: imports push over loopback HTTP (the
 * importer speaks the Distribution API, as DVCR's does), deletes and checks go to the metadata
 * and blob storage interfaces. With auth on, the controller pushes as the admin account (read
 * from its password file at each import, so a rotated password is followed).
 */
export function registryPort(registry: OpenRegistry, baseUrl: () => string): CviRegistryPort {
  const { config } = registry;
  return {
    async destination(repository, tag): Promise<ImportDestination> {
      const admin = config.auth?.admin;
      if (config.auth && !admin) {
        throw new Error("auth is on but no auth.admin account is configured: the ClusterVirtualImage controller pushes as the admin");
      }
      const credentials = admin ? { username: admin.username, password: secretText([await fs.readFile(admin.passwordFile)]) } : undefined;
      // Our own certificate, over loopback: no name to verify it against.
      return { registry: baseUrl(), repository, tag, credentials, insecure: baseUrl().startsWith("https:") };
    },
    async deleteRepository(repository) {
      // The owner is gone: whether admins may delete over the API (delete.enabled) does not apply.
      await registry.meta.repositories.delete(repository);
    },
    async imageIntact(repository, tag) {
      let blobs: Descriptor[];
      try {
        const record = await registry.manifests.get(repository, parseReference(tag));
        blobs = parseManifest(record.content, record.mediaType).blobs;
      } catch {
        return false;
      }
      for (const d of blobs) {
        if (isExternalBlob(d)) continue;
        try {
          const digest = parseDigest(d.digest);
          await registry.blobs.stat(repository, digest);
          // Metadata says linked; the bytes must be there too (scrub quarantines a corrupt blob).
          if ((await registry.storage.stat(digest)) === null) return false;
        } catch {
          return false;
        }
      }
      return true;
    },
  };
}
