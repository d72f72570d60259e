import { InspectionError } from "../errors.js";

/** Header field readers that refuse what a hostile header could use to mislead us. */

export function requireBytes(head: Buffer, length: number, format: string): void {
  if (head.length < length) throw new InspectionError(`${format} header is truncated (${head.length} of ${length} bytes)`);
}

function toSafeNumber(value: bigint, format: string, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new InspectionError(`${format} ${field} ${value} is absurd`);
  return Number(value);
}

export function u64be(head: Buffer, offset: number, format: string, field: string): number {
  return toSafeNumber(head.readBigUInt64BE(offset), format, field);
}

export function u64le(head: Buffer, offset: number, format: string, field: string): number {
  return toSafeNumber(head.readBigUInt64LE(offset), format, field);
}

/** Multiply two header numbers; a product beyond 2^53 is absurd for any real disk. */
export function product(a: number, b: number, format: string, field: string): number {
  const result = a * b;
  if (!Number.isSafeInteger(result)) throw new InspectionError(`${format} ${field} (${a} × ${b}) is absurd`);
  return result;
}

export function startsWith(head: Buffer, offset: number, magic: Buffer | string): boolean {
  const bytes = typeof magic === "string" ? Buffer.from(magic, "latin1") : magic;
  return head.length >= offset + bytes.length && head.subarray(offset, offset + bytes.length).equals(bytes);
}
