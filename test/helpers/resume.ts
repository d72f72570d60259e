import assert from "node:assert/strict";
import { randomBytes, type Hash } from "node:crypto";
import http from "node:http";
import { sha256, type TestClient } from "./client.js";

/**
 * An upload session that held `first` (one acknowledged chunk) when its server went away,
 * after a restart: GET says it holds exactly those bytes, a next chunk is taken at that offset,
 * and the completed blob reads back byte for byte.
 */
export async function assertSessionResumes(client: TestClient, repository: string, location: string, first: Buffer): Promise<void> {
  let res = await client.fetch(location);
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("range"), `0-${first.length - 1}`);
  const rest = randomBytes(500_000);
  res = await client.fetch(location, { method: "PATCH", body: rest, headers: { "Content-Range": `${first.length}-${first.length + rest.length - 1}` } });
  assert.equal(res.status, 202);
  const digest = sha256(Buffer.concat([first, rest]));
  const sep = location.includes("?") ? "&" : "?";
  res = await client.fetch(`${location}${sep}digest=${digest}`, { method: "PUT" });
  assert.equal(res.status, 201);
  res = await client.fetch(`/v2/${repository}/blobs/${digest}`);
  assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest);
}

export interface SlowUpload {
  /** Bytes written to the socket so far. */
  sent: () => number;
  /** The response's status and Range header, or the error that ended the request. */
  done: Promise<{ status: number; range: string | undefined } | Error>;
}

/** A PATCH that writes `total` random bytes in 256 KiB pieces, `delayMs` apart. */
export function slowPatch(url: string, total: number, delayMs: number, opts: { declareLength: boolean; hash?: Hash }): SlowUpload {
  let sent = 0;
  const headers: Record<string, string | number> = { "Content-Type": "application/octet-stream" };
  if (opts.declareLength) headers["Content-Length"] = total;
  const req = http.request(url, { method: "PATCH", headers, agent: false });
  const done = new Promise<{ status: number; range: string | undefined } | Error>((resolve) => {
    req.once("response", (res) => {
      res.resume();
      res.once("end", () => resolve({ status: res.statusCode!, range: res.headers.range }));
    });
    req.once("error", (err) => resolve(err));
  });
  void (async () => {
    while (sent < total && !req.destroyed) {
      const piece = randomBytes(Math.min(256 * 1024, total - sent));
      opts.hash?.update(piece);
      sent += piece.length;
      if (!req.write(piece)) await new Promise((r) => req.once("drain", r));
      await new Promise((r) => setTimeout(r, delayMs));
    }
    if (!req.destroyed) req.end();
  })();
  return { sent: () => sent, done };
}
