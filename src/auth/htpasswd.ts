import { createHmac, randomBytes } from "node:crypto";
import bcrypt from "bcryptjs";

/** A parsed htpasswd file: user → bcrypt hash. Other hash kinds are refused, as distribution does. */
export interface HtpasswdEntries {
  users: Map<string, string>;
  /** Lines that were skipped (not bcrypt, malformed); reported once per load, never their content. */
  skipped: number;
}

const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

export function parseHtpasswd(contents: Buffer[]): HtpasswdEntries {
  const users = new Map<string, string>();
  let skipped = 0;
  for (const raw of contents[0]!.toString("utf8").split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (colon <= 0 || !BCRYPT.test(hash)) {
      skipped++;
      continue;
    }
    users.set(user, hash);
  }
  return { users, skipped };
}

const CACHE_LIMIT = 1024;

/**
 * A hash of a random password at the cost the file uses (htpasswd -B defaults to 5): checking
 * an unknown user costs one bcrypt like a known one, so response time does not tell who exists.
 */
const decoys = new Map<number, Promise<string>>();

/** bcrypt's cost when there is no htpasswd file to take it from (htpasswd -B's default is 5; bcrypt's 10). */
export const DEFAULT_BCRYPT_COST = 10;

function costOf(entries: HtpasswdEntries): number {
  const sample = entries.users.values().next().value;
  return sample ? Number(sample.slice(4, 6)) : DEFAULT_BCRYPT_COST;
}

/** Spend one bcrypt comparison of `password` at `cost` that can never succeed. */
export async function decoyCompare(password: string, cost = DEFAULT_BCRYPT_COST): Promise<void> {
  let decoy = decoys.get(cost);
  if (!decoy) decoys.set(cost, (decoy = bcrypt.hash(randomBytes(16).toString("hex"), cost)));
  await bcrypt.compare(password, await decoy);
}

/**
 * bcrypt is deliberately slow (tens of ms in JS) and a push sends dozens of requests with the
 * same Basic header, so successful checks are remembered. The key is an HMAC (with a key that
 * lives only in this process) over user, password and the stored hash: a changed or removed
 * htpasswd entry can never hit an old success, and the cache holds no password.
 */
export class HtpasswdVerifier {
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, true>();

  constructor(private readonly entries: () => HtpasswdEntries) {}

  has(username: string): boolean {
    return this.entries().users.has(username);
  }

  /** One bcrypt at this file's cost that never succeeds: what a failure costs whoever it names. */
  spendDecoy(password: string): Promise<void> {
    return decoyCompare(password, costOf(this.entries()));
  }

  async verify(username: string, password: string): Promise<boolean> {
    const entries = this.entries();
    const hash = entries.users.get(username);
    if (hash === undefined) {
      await decoyCompare(password, costOf(entries));
      return false;
    }
    const key = createHmac("sha256", this.cacheKey).update(`${username}\u0000${password}\u0000${hash}`).digest("base64");
    if (this.verified.has(key)) return true;
    if (!(await bcrypt.compare(password, hash))) return false;
    if (this.verified.size >= CACHE_LIMIT) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(key, true);
    return true;
  }
}
