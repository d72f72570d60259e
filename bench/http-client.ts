import { createReadStream } from "node:fs";
import http from "node:http";
import { pipeline } from "node:stream/promises";

/** A file to push, with its digest computed beforehand (never during a timed push). */
export interface BlobFile {
  path: string;
  size: number;
  digest: string;
}

/** Reads of 4 MiB: the client must not be what limits a push. */
const READ_SIZE = 4 * 1024 * 1024;

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Bytes [start, end] (inclusive) of a file, streamed as the body. */
  file?: { path: string; start: number; end: number };
  body?: Buffer;
}

/** One HTTP/1.1 request; the reply body is read whole (our replies here are small). */
export async function request(method: string, url: string, { headers = {}, file, body }: RequestOptions = {}): Promise<Reply> {
  const length = file ? file.end - file.start + 1 : body ? body.length : 0;
  const req = http.request(url, {
    method,
    agent,
    headers: { "Content-Length": String(length), ...(length > 0 ? { "Content-Type": "application/octet-stream" } : {}), ...headers },
  });
  const replied = new Promise<Reply>((resolve, reject) => {
    req.once("response", (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.once("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.once("error", reject);
    });
    req.once("error", reject);
  });
  let sent: Promise<void>;
  if (file && length > 0) {
    sent = pipeline(createReadStream(file.path, { start: file.start, end: file.end, highWaterMark: READ_SIZE }), req);
  } else {
    req.end(body);
    sent = Promise.resolve();
  }
  // Both at once: whichever fails first is the error, and the other's failure is not left unhandled.
  try {
    const [reply] = await Promise.all([replied, sent]);
    return reply;
  } catch (err) {
    throw new Error(`${method} ${url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export function expectStatus(reply: Reply, expected: number, what: string): Reply {
  if (reply.status !== expected) {
    throw new Error(`${what}: expected HTTP ${expected}, got ${reply.status} ${reply.body.toString("utf8").slice(0, 300)}`);
  }
  return reply;
}

function location(reply: Reply, base: string): string {
  const value = reply.headers.location;
  if (!value) throw new Error("upload reply without Location");
  return new URL(value, base).toString();
}

function withDigest(url: string, digest: string): string {
  const u = new URL(url);
  u.searchParams.set("digest", digest);
  return u.toString();
}

async function openSession(base: string, repository: string): Promise<string> {
  const reply = expectStatus(await request("POST", `${base}/v2/${repository}/blobs/uploads/`), 202, "POST upload");
  return location(reply, base);
}

/** Monolithic push: POST opens a session, one PUT ?digest= carries the whole blob. */
export async function pushMonolithic(base: string, repository: string, blob: BlobFile): Promise<void> {
  const session = await openSession(base, repository);
  const file = { path: blob.path, start: 0, end: blob.size - 1 };
  expectStatus(await request("PUT", withDigest(session, blob.digest), { file }), 201, "PUT blob");
}

/** Chunked push: POST, then PATCHes of `chunkSize` bytes with Content-Range, then PUT ?digest=. */
export async function pushChunked(base: string, repository: string, blob: BlobFile, chunkSize: number): Promise<void> {
  let session = await openSession(base, repository);
  for (let start = 0; start < blob.size; start += chunkSize) {
    const end = Math.min(start + chunkSize, blob.size) - 1;
    const reply = await request("PATCH", session, {
      file: { path: blob.path, start, end },
      headers: { "Content-Range": `${start}-${end}` },
    });
    session = location(expectStatus(reply, 202, `PATCH ${start}-${end}`), base);
  }
  expectStatus(await request("PUT", withDigest(session, blob.digest)), 201, "PUT closing the chunked upload");
}

/** A small blob (an image config) pushed in one POST + PUT. */
export async function pushBytes(base: string, repository: string, bytes: Buffer, digest: string): Promise<void> {
  const session = await openSession(base, repository);
  expectStatus(await request("PUT", withDigest(session, digest), { body: bytes }), 201, "PUT small blob");
}

export async function putManifest(base: string, repository: string, reference: string, manifest: Buffer, mediaType: string): Promise<void> {
  const reply = await request("PUT", `${base}/v2/${repository}/manifests/${reference}`, {
    body: manifest,
    headers: { "Content-Type": mediaType },
  });
  expectStatus(reply, 201, `PUT manifest ${reference}`);
}
