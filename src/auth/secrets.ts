import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Compare a presented secret with the expected one in constant time. Both sides are hashed
 * first so that timingSafeEqual always sees equal lengths: comparing raw strings would leak
 * the expected length, and an early `!==` would leak how many leading characters matched.
 */
export function sameSecret(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b);
}
