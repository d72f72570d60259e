import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { errorCodes, randomBlob, sha256, TestClient } from "../helpers/client.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

describe("blobs: GET, HEAD, Range, DELETE", () => {
  let server: TestServer;
  let client: TestClient;
  const blob = randomBlob(300_000);
  before(async () => {
    server = await startTestServer();
    client = new TestClient(server.url);
    await client.pushBlob("r/blobs", blob.data);
  });
  after(() => server.dispose());

  test("HEAD gives size, digest and ETag without a body", async () => {
    const res = await client.fetch(`/v2/r/blobs/blobs/${blob.digest}`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String(blob.data.length));
    assert.equal(res.headers.get("docker-content-digest"), blob.digest);
    assert.equal(res.headers.get("etag"), `"${blob.digest}"`);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  test("GET returns the exact bytes", async () => {
    const res = await client.fetch(`/v2/r/blobs/blobs/${blob.digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    assert.equal(res.headers.get("accept-ranges"), "bytes");
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), blob.digest);
  });

  test("Range GET answers 206 with Content-Range", async () => {
    const cases: [string, number, number][] = [
      ["bytes=0-99", 0, 99],
      ["bytes=1000-", 1000, blob.data.length - 1],
      ["bytes=-500", blob.data.length - 500, blob.data.length - 1],
      ["bytes=299990-999999999", 299990, blob.data.length - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await client.fetch(`/v2/r/blobs/blobs/${blob.digest}`, { headers: { Range: range } });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers.get("content-range"), `bytes ${start}-${end}/${blob.data.length}`);
      assert.equal(res.headers.get("content-length"), String(end - start + 1));
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), blob.data.subarray(start, end + 1));
    }
  });

  test("an unsatisfiable Range answers 416 with Content-Range */size", async () => {
    for (const range of ["bytes=300000-", "bytes=400000-400010", "bytes=-0"]) {
      const res = await client.fetch(`/v2/r/blobs/blobs/${blob.digest}`, { headers: { Range: range } });
      assert.equal(res.status, 416, range);
      assert.equal(res.headers.get("content-range"), `bytes */${blob.data.length}`);
      await res.arrayBuffer();
    }
  });

  test("If-None-Match with the digest ETag answers 304", async () => {
    const res = await client.fetch(`/v2/r/blobs/blobs/${blob.digest}`, { headers: { "If-None-Match": `"${blob.digest}"` } });
    assert.equal(res.status, 304);
  });

  test("unknown blob, unknown repository, bad digest", async () => {
    const missing = sha256("not there");
    let res = await client.fetch(`/v2/r/blobs/blobs/${missing}`);
    assert.equal(res.status, 404);
    assert.deepEqual(await errorCodes(res), ["BLOB_UNKNOWN"]);
    res = await client.fetch(`/v2/r/blobs/blobs/${missing}`, { method: "HEAD" });
    assert.equal(res.status, 404);
    res = await client.fetch(`/v2/no/such/repo/blobs/${blob.digest}`);
    assert.equal(res.status, 404);
    assert.deepEqual(await errorCodes(res), ["BLOB_UNKNOWN"]);
    for (const bad of ["sha256:totallywrong", "sha256:ABC", "md5:d41d8cd98f00b204e9800998ecf8427e", "nocolon"]) {
      res = await client.fetch(`/v2/r/blobs/blobs/${bad}`);
      assert.equal(res.status, 400, bad);
      assert.deepEqual(await errorCodes(res), ["DIGEST_INVALID"]);
    }
  });

  test("a blob is visible only in repositories that hold it", async () => {
    const res = await client.fetch(`/v2/other/blobs/${blob.digest}`, { method: "HEAD" });
    assert.equal(res.status, 404);
  });

  test("DELETE unlinks the blob from the repository", async () => {
    const b = randomBlob(1000);
    await client.pushBlob("r/del", b.data);
    await client.pushBlob("r/keep", b.data);
    let res = await client.fetch(`/v2/r/del/blobs/${b.digest}`, { method: "DELETE" });
    assert.equal(res.status, 202);
    res = await client.fetch(`/v2/r/del/blobs/${b.digest}`);
    assert.equal(res.status, 404);
    assert.deepEqual(await errorCodes(res), ["BLOB_UNKNOWN"]);
    res = await client.fetch(`/v2/r/del/blobs/${b.digest}`, { method: "DELETE" });
    assert.equal(res.status, 404);
    // Shared storage: the other repository still serves it.
    res = await client.fetch(`/v2/r/keep/blobs/${b.digest}`);
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), b.digest);
  });

  test("sha512 digests are stored and served", async () => {
    const data = Buffer.from("sha512 content ".repeat(1000));
    const digest = `sha512:${createHash("sha512").update(data).digest("hex")}`;
    const res = await client.fetch(`/v2/r/sha512/blobs/uploads/?digest=${digest}`, { method: "POST", body: data });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("docker-content-digest"), digest);
    const get = await client.fetch(`/v2/r/sha512/blobs/${digest}`);
    assert.equal(get.status, 200);
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), data);
  });

  test("the empty blob can be pushed and pulled", async () => {
    const digest = await client.pushBlob("r/empty", Buffer.alloc(0));
    const res = await client.fetch(`/v2/r/empty/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), "0");
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });
});
