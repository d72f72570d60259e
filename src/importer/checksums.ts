import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { ImportError } from "./errors.js";
import type { Checksum, ChecksumAlgorithm } from "./types.js";

const HEX_LENGTH: Record<ChecksumAlgorithm, number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };

/**
 * Validate declared checksums before a byte is fetched: an unknown algorithm is refused by name
 * (DVCR also knows streebog, which no library here implements: better refused than skipped).
 */
export function validateChecksums(checksums: readonly { algorithm: string; hex: string }[]): Checksum[] {
  return checksums.map(({ algorithm, hex }) => {
    if (!(algorithm in HEX_LENGTH)) {
      throw new ImportError("invalid", `unsupported checksum algorithm "${algorithm}" (supported: ${Object.keys(HEX_LENGTH).join(", ")})`);
    }
    const alg = algorithm as ChecksumAlgorithm;
    const normalised = hex.trim().toLowerCase();
    if (normalised.length !== HEX_LENGTH[alg] || !/^[0-9a-f]+$/.test(normalised)) {
      throw new ImportError("invalid", `${alg} checksum must be ${HEX_LENGTH[alg]} hex digits, got "${hex}"`);
    }
    return { algorithm: alg, hex: normalised };
  });
}

/** `algo:hex[,algo:hex]` (IMPORTER_CHECKSUMS, `--checksum`). */
export function parseChecksumList(text: string): Checksum[] {
  const items = text.split(",").map((s) => s.trim()).filter(Boolean);
  return validateChecksums(
    items.map((item) => {
      const colon = item.indexOf(":");
      if (colon <= 0) throw new ImportError("invalid", `checksum "${item}" is not algo:hex`);
      return { algorithm: item.slice(0, colon).toLowerCase(), hex: item.slice(colon + 1) };
    }),
  );
}

/** Hashes the source's bytes as they pass (as downloaded: checksums are those of the published file). */
export class ChecksumTap extends Transform {
  private readonly hashes: { expected: Checksum; hash: Hash }[];

  constructor(checksums: readonly Checksum[]) {
    super();
    this.hashes = checksums.map((expected) => ({ expected, hash: createHash(expected.algorithm) }));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    for (const { hash } of this.hashes) hash.update(chunk);
    callback(null, chunk);
  }

  /** Throws checksum-mismatch; call once the source has ended. */
  verify(): void {
    for (const { expected, hash } of this.hashes) {
      const actual = hash.digest("hex");
      if (actual !== expected.hex) {
        throw new ImportError("checksum-mismatch", `${expected.algorithm} checksum mismatch: the source has ${actual}, expected ${expected.hex}`);
      }
    }
  }
}
