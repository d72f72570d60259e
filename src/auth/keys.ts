import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type JsonWebKey, type KeyObject } from "node:crypto";
import { existsSync, linkSync, mkdirSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";

/** A verification or signing key with the one JWS algorithm it is used with. */
export interface SigningKey {
  /** Public key as a JWK (what jose verifies with, and what JWKS serves). */
  publicJwk: JsonWebKey;
  /** Private key as a JWK, when we sign with it. */
  privateJwk?: JsonWebKey;
  alg: "ES256" | "ES384" | "RS256" | "EdDSA";
}

/**
 * The algorithm is decided by the key, never by a token's header: that is what makes
 * `alg: none` and HS256-signed-with-the-public-key tokens fail (algorithm confusion).
 */
export function algorithmOf(key: KeyObject): SigningKey["alg"] {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === "ec" && curve === "prime256v1") return "ES256";
  if (key.asymmetricKeyType === "ec" && curve === "secp384r1") return "ES384";
  if (key.asymmetricKeyType === "rsa") {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new Error("RSA keys must have at least 2048 bits");
    return "RS256";
  }
  if (key.asymmetricKeyType === "ed25519") return "EdDSA";
  throw new Error(`unsupported key type ${key.asymmetricKeyType ?? "?"}${curve ? ` (${curve})` : ""}: use EC P-256, RSA or Ed25519`);
}

/** A PEM public key (SPKI, or a certificate's key). */
export function publicKeyFromPem(contents: Buffer[]): SigningKey {
  const key = createPublicKey(contents[0]!);
  return { publicJwk: key.export({ format: "jwk" }), alg: algorithmOf(key) };
}

/** A PEM private key (PKCS#8 or SEC1/PKCS#1). */
export function privateKeyFromPem(contents: Buffer[]): SigningKey {
  const key = createPrivateKey(contents[0]!);
  const alg = algorithmOf(key);
  return { publicJwk: createPublicKey(key).export({ format: "jwk" }), privateJwk: key.export({ format: "jwk" }), alg };
}

/** RFC 7638 JWK thumbprint: a stable `kid` for a key of ours, derived from the key itself. */
export function thumbprint(jwk: JsonWebKey): string {
  const members: Record<string, string[]> = { EC: ["crv", "kty", "x", "y"], RSA: ["e", "kty", "n"], OKP: ["crv", "kty", "x"] };
  const names = members[jwk.kty ?? ""];
  if (!names) throw new Error(`no thumbprint for key type ${jwk.kty ?? "?"}`);
  const canonical = JSON.stringify(Object.fromEntries(names.map((n) => [n, (jwk as Record<string, unknown>)[n]])));
  return createHash("sha256").update(canonical).digest("base64url");
}

/** Create `file` holding a new EC P-256 private key unless it exists; never overwrite one. */
export function ensurePrivateKeyFile(file: string): boolean {
  if (existsSync(file)) return false;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(tmp, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600, flag: "wx" });
  try {
    // link() fails if another replica created the key first: theirs wins, whole.
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return false;
  } finally {
    unlinkSync(tmp);
  }
}
