import type { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { InspectionError, isInspectionError } from "./errors.js";
import { ByteMeter } from "./layer-stream.js";
import type { DiskLimits } from "./limits.js";

/** The directory the platform's importers read: the disk is the one regular file in it. */
const DISK_DIR = "disk";
const MAX_NAME_BYTES = 255;

/** A `disk/<file>` entry as the visitor sees it. */
export interface DiskEntry {
  /** Path in the layer, normalised (`disk/<file>`). */
  path: string;
  /** Size from the tar header: the unpacked size of the disk file. */
  size: number;
  content: AsyncIterable<Buffer>;
}

/** What to do after a disk file: stop reading the layer, or walk on to its end. */
export type WalkDecision = "stop" | "continue";

export interface WalkOptions {
  limits: DiskLimits;
  /** Aborts the walk; the walk rejects with the signal's reason (an InspectionError for a deadline). */
  signal: AbortSignal;
  onDiskFile(entry: DiskEntry): Promise<WalkDecision>;
}

export interface WalkResult {
  /** Disk files seen (at most one unless the walk stopped at the first). */
  diskFiles: string[];
  entries: number;
}

type Classified = { kind: "disk"; path: string } | { kind: "other" };

/**
 * Where a tar path lands once extracted. Leading "./" and "/" are dropped as extractors do;
 * a ".." component is refused for the whole layer: extractors disagree on what it means, and a
 * layer built by any honest tool never holds one.
 */
function classify(name: string, type: string | null | undefined): Classified {
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new InspectionError(`unsafe path in layer: ${JSON.stringify(name)}`);
  if (parts.length !== 2 || parts[0] !== DISK_DIR || parts[1]!.startsWith(".wh.")) return { kind: "other" };
  const path = parts.join("/");
  // No filesystem takes a longer name (NAME_MAX): no importer could write this disk out.
  if (Buffer.byteLength(parts[1]!) > MAX_NAME_BYTES) throw new InspectionError(`disk file name is longer than ${MAX_NAME_BYTES} bytes`);
  if (type === "file" || type === "contiguous-file") return { kind: "disk", path };
  if (type === "directory") return { kind: "other" };
  throw new InspectionError(`${path} is a ${type ?? "special file"}, not a regular file`);
}

/** Turn what a pipeline throws into a reason, or rethrow what is our (or the storage's) fault. */
function toInspectionError(err: unknown, signal: AbortSignal): unknown {
  if (isInspectionError(err)) return err;
  // A deadline aborts with an InspectionError (see deadline.ts); a shutdown with its own reason.
  if (signal.aborted) return signal.reason;
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === "string" && e.code.startsWith("Z_")) return new InspectionError(`layer's gzip stream is corrupt: ${e.message}`);
  if (e?.message === "Unexpected end of data") return new InspectionError("layer is truncated: the tar ends inside an entry");
  if (/tar header|Header exceeds max size|Invalid header/i.test(e?.message ?? "")) {
    return new InspectionError(`layer is not a valid tar archive: ${e.message}`);
  }
  return err;
}

/**
 * Walk a layer's tar entries, streaming: nothing is extracted or buffered beyond tar-stream's
 * 4 MiB header bound. Bytes outside disk files (other entries, long headers, junk after the
 * end-of-archive marker) count against `maxOtherBytes`, entries against `maxEntries`.
 */
export async function walkTar(source: Readable, decoders: Transform[], options: WalkOptions): Promise<WalkResult> {
  const { limits, signal } = options;
  let diskAllowance = 0;
  const fed = new ByteMeter((bytes) =>
    bytes - diskAllowance > limits.maxOtherBytes
      ? new InspectionError(`layer holds more than ${limits.maxOtherBytes} bytes outside the disk file`)
      : null,
  );
  const extract = tar.extract();
  const feeding = pipeline([source, ...decoders, fed, extract], { signal });
  let stopped = false;
  // Read below through the iterator; a failure surfaces there too, so this copy is only observed.
  feeding.catch(() => undefined);
  const result: WalkResult = { diskFiles: [], entries: 0 };
  try {
    for await (const entry of extract) {
      if (++result.entries > limits.maxEntries) throw new InspectionError(`layer holds more than ${limits.maxEntries} tar entries (tar bomb)`);
      const where = classify(entry.header.name, entry.header.type);
      if (where.kind === "other") {
        entry.resume();
        continue;
      }
      const size = entry.header.size ?? 0;
      if (!Number.isSafeInteger(size)) throw new InspectionError(`${where.path} declares an absurd size`);
      result.diskFiles.push(where.path);
      if (result.diskFiles.length > 1) throw new InspectionError(`layer holds more than one disk file: ${result.diskFiles.join(", ")}`);
      diskAllowance += size;
      if ((await options.onDiskFile({ path: where.path, size, content: entry as AsyncIterable<Buffer> })) === "stop") {
        stopped = true;
        break;
      }
      entry.resume();
    }
    if (!stopped) await feeding;
  } catch (err) {
    throw toInspectionError(err, signal);
  } finally {
    if (!extract.destroyed) extract.destroy();
    source.destroy();
  }
  return result;
}
