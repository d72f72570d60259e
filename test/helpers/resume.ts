import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
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
