import { RegistryError } from "./errors.js";

/** Algorithms we can verify; the spec's grammar allows others, which we refuse as unsupported. */
export const DIGEST_ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

export interface Digest {
  readonly algorithm: DigestAlgorithm;
  readonly hex: string;
  /** The canonical "algorithm:hex" form. */
  readonly value: string;
}

// digest := algorithm ":" encoded (image-spec descriptor.md)
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Parse a digest string from the network; throws DIGEST_INVALID on anything we cannot verify. */
export function parseDigest(input: string): Digest {
  if (!DIGEST_GRAMMAR.test(input)) {
    throw new RegistryError("DIGEST_INVALID", "invalid digest", { detail: { digest: input } });
  }
  const [algorithm, hex] = input.split(":") as [string, string];
  if (!(algorithm in DIGEST_ALGORITHMS)) {
    throw new RegistryError("DIGEST_INVALID", `unsupported digest algorithm ${algorithm}`, { detail: { digest: input } });
  }
  const alg = algorithm as DigestAlgorithm;
  // image-spec: sha256/sha512 encodings are lowercase hex of fixed length.
  if (hex.length !== DIGEST_ALGORITHMS[alg] || !/^[a-f0-9]+$/.test(hex)) {
    throw new RegistryError("DIGEST_INVALID", `invalid ${alg} digest`, { detail: { digest: input } });
  }
  return { algorithm: alg, hex, value: input };
}

export function isDigestString(input: string): boolean {
  return input.includes(":");
}

export function digestOf(algorithm: DigestAlgorithm, hex: string): Digest {
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}
