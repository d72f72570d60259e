import { promises as fs } from "node:fs";

/**
 * The driver's one translation of "no such file" (ENOENT) into null: nothing above storage/fs/
 * ever sees a platform error code for an absent blob or session.
 */
export async function unlessAbsent<T>(operation: Promise<T>): Promise<T | null> {
  try {
    return await operation;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Size of a file, or null when there is none. */
export async function fileSizeOrNull(file: string): Promise<number | null> {
  return (await unlessAbsent(fs.stat(file)))?.size ?? null;
}
