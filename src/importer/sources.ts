import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { ImportError } from "./errors.js";
import { HttpDownload } from "./http-download.js";
import type { RetryPolicy } from "./retry.js";
import { basicAuthorization, createDispatcher } from "./transport.js";
import type { ImportSource } from "./types.js";
import type { RangeReader } from "./xz-index.js";

/** A source opened for one import: the file's bytes as they come (maybe compressed). */
export interface SourceBytes {
  fileName: string;
  /** Bytes of the source, when known before reading it. */
  size?: number;
  /** Random access, when the source allows it (a file, an HTTP server honouring Range). */
  readRange?: RangeReader;
  /** The bytes, once. */
  stream(): Readable;
  close(): Promise<void>;
}

export interface SourceContext {
  policy: RetryPolicy;
  stallTimeoutMs: number;
  signal?: AbortSignal;
}

export async function openFileSource(file: string): Promise<SourceBytes> {
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ImportError("not-found", `${file}: no such file`);
    if (code === "EACCES") throw new ImportError("forbidden", `${file}: permission denied`);
    throw err;
  }
  if (!info.isFile() && !info.isBlockDevice()) throw new ImportError("invalid", `${file} is not a regular file`);
  return {
    fileName: path.basename(file),
    size: info.size,
    async readRange(start, end) {
      const handle = await open(file, "r");
      try {
        const buffer = Buffer.alloc(end - start + 1);
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
        return buffer.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    },
    stream: () => createReadStream(file, { highWaterMark: 1 << 20 }),
    close: async () => undefined,
  };
}

export async function openHttpSource(source: Extract<ImportSource, { type: "http" }>, context: SourceContext): Promise<SourceBytes> {
  let url: URL;
  try {
    url = new URL(source.url);
  } catch {
    throw new ImportError("invalid", `"${source.url}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ImportError("invalid", `unsupported URL scheme ${url.protocol} (http and https are)`);
  // Credentials in the URL (user:pass@host) become Basic auth and leave the URL.
  const credentials = source.credentials ?? (url.username ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : undefined);
  url.username = "";
  url.password = "";
  const dispatcher = createDispatcher({ caBundle: source.caBundle, insecure: source.insecure, headersTimeoutMs: context.stallTimeoutMs });
  const download = await HttpDownload.open({
    url: url.href,
    dispatcher,
    authorization: credentials ? basicAuthorization(credentials) : undefined,
    policy: context.policy,
    stallTimeoutMs: context.stallTimeoutMs,
    signal: context.signal,
  }).catch(async (err) => {
    await dispatcher.close().catch(() => undefined);
    throw err;
  });
  return {
    fileName: download.fileName,
    size: download.size,
    readRange: download.acceptsRanges ? (start, end) => download.readRange(start, end) : undefined,
    stream: () => download.stream(),
    close: () => dispatcher.destroy().catch(() => undefined),
  };
}

export function openStreamSource(source: Extract<ImportSource, { type: "stream" }>): SourceBytes {
  const body = source.body instanceof Readable ? source.body : new Readable({ highWaterMark: 1 << 20 }).wrap(source.body);
  return {
    fileName: path.basename(source.fileName) || "disk.img",
    size: source.size,
    stream: () => body,
    close: async () => {
      if (!body.readableEnded) body.destroy();
    },
  };
}
