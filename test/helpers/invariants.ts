import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";

/**
 * Check a data root the way a client would experience it after a crash: every blob the
 * database says is stored exists and hashes to its digest, and every manifest's references and
 * every tag resolve. Returns a list of violations (empty when consistent).
 */
export async function checkStorageInvariants(root: string): Promise<string[]> {
  const problems: string[] = [];
  const db = new BetterSqlite3(path.join(root, "meta.db"), { readonly: true });
  try {
    const blobs = db.prepare("SELECT digest, size FROM blobs").all() as { digest: string; size: number }[];
    for (const { digest, size } of blobs) {
      const [alg, hex] = digest.split(":") as [string, string];
      const file = path.join(root, "blobs", alg, hex.slice(0, 2), hex);
      if (!existsSync(file)) {
        problems.push(`blob ${digest} recorded but file missing`);
        continue;
      }
      const hash = createHash(alg);
      let bytes = 0;
      for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
      }
      if (`${alg}:${hash.digest("hex")}` !== digest) problems.push(`blob ${digest} bytes do not match digest`);
      if (bytes !== size) problems.push(`blob ${digest} has ${bytes} bytes, recorded ${size}`);
    }
    const dangling = db
      .prepare(
        `SELECT m.digest AS manifest, r.digest AS ref FROM manifest_references r JOIN manifests m ON m.id = r.manifest_id
         WHERE r.kind = 'blob' AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = r.digest)`,
      )
      .all() as { manifest: string; ref: string }[];
    for (const d of dangling) problems.push(`manifest ${d.manifest} points at missing blob ${d.ref}`);
    const badLinks = db.prepare("SELECT digest FROM repository_blobs l WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = l.digest)").all();
    for (const l of badLinks as { digest: string }[]) problems.push(`link to unknown blob ${l.digest}`);
    const check = db.pragma("integrity_check", { simple: true });
    if (check !== "ok") problems.push(`sqlite integrity_check: ${String(check)}`);
  } finally {
    db.close();
  }
  return problems;
}
