import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { errorCodes, randomBlob, sha256, TestClient } from "../helpers/client.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";

function blobFile(root: string, digest: string): string {
  const [alg, hex] = digest.split(":") as [string, string];
  return path.join(root, "blobs", alg, hex.slice(0, 2), hex);
}

/** A body the client streams with chunked transfer encoding (no Content-Length). */
function streamOf(...parts: Buffer[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    pull(controller) {
      const next = parts.shift();
      if (next) controller.enqueue(new Uint8Array(next));
      else controller.close();
    },
  });
}

/** Send a request whose body is shorter than its Content-Length, then hang up. */
function sendTruncated(url: string, method: string, declared: number, sent: Buffer): Promise<void> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(u.port), u.hostname, () => {
      socket.write(`${method} ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Length: ${declared}\r\nContent-Type: application/octet-stream\r\n\r\n`);
      socket.write(sent, () => setTimeout(() => socket.destroy(), 200));
    });
    socket.on("close", () => resolve());
    socket.on("error", () => resolve());
  });
}

describe("blob uploads", () => {
  let server: TestServer;
  let client: TestClient;
  before(async () => {
    server = await startTestServer();
    client = new TestClient(server.url);
  });
  after(() => server.dispose());

  test("POST opens a session: 202, Location, Range 0-0, Docker-Upload-UUID", async () => {
    const res = await client.fetch("/v2/u/session/blobs/uploads/", { method: "POST" });
    assert.equal(res.status, 202);
    const location = res.headers.get("location")!;
    assert.match(location, /^\/v2\/u\/session\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.equal(res.headers.get("range"), "0-0");
    assert.equal(res.headers.get("docker-upload-uuid"), location.split("/").pop());
    assert.equal(res.headers.get("content-length"), "0");
  });

  test("monolithic POST + PUT stores the blob and removes the temp file", async () => {
    const blob = randomBlob(2 * 1024 * 1024 + 17);
    const location = await client.startUpload("u/mono");
    const id = location.split("/").pop()!;
    const res = await client.fetch(`${location}?digest=${blob.digest}`, { method: "PUT", body: blob.data });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("location"), `/v2/u/mono/blobs/${blob.digest}`);
    assert.equal(res.headers.get("docker-content-digest"), blob.digest);
    assert.deepEqual(readFileSync(blobFile(server.root, blob.digest)), blob.data);
    assert.equal(existsSync(path.join(server.root, "uploads", id)), false);
    const status = await client.fetch(location);
    assert.equal(status.status, 404);
    assert.deepEqual(await errorCodes(status), ["BLOB_UPLOAD_UNKNOWN"]);
  });

  test("one-request POST ?digest= with the body answers 201", async () => {
    const blob = randomBlob(100_000);
    const res = await client.fetch(`/v2/u/single/blobs/uploads/?digest=${blob.digest}`, {
      method: "POST",
      body: blob.data,
      headers: { "Content-Type": "application/octet-stream" },
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("location"), `/v2/u/single/blobs/${blob.digest}`);
    const get = await client.fetch(`/v2/u/single/blobs/${blob.digest}`);
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), blob.data);
  });

  test("one-request POST with a wrong digest stores nothing", async () => {
    const blob = randomBlob(1000);
    const wrong = sha256("something else");
    const sessionsBefore = readdirSync(path.join(server.root, "uploads")).sort();
    const res = await client.fetch(`/v2/u/single/blobs/uploads/?digest=${wrong}`, { method: "POST", body: blob.data });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["DIGEST_INVALID"]);
    assert.equal(existsSync(blobFile(server.root, wrong)), false);
    assert.equal(existsSync(blobFile(server.root, blob.digest)), false);
    assert.deepEqual(readdirSync(path.join(server.root, "uploads")).sort(), sessionsBefore);
  });

  test("streamed PATCH (chunked transfer, no Content-Range) then PUT without body", async () => {
    const parts = [randomBytes(70_000), randomBytes(1_500_000), randomBytes(3)];
    const whole = Buffer.concat(parts);
    const location = await client.startUpload("u/stream");
    const patch = await client.fetch(location, { method: "PATCH", body: streamOf(...parts), headers: { "Content-Type": "application/octet-stream" } });
    assert.equal(patch.status, 202);
    assert.equal(patch.headers.get("range"), `0-${whole.length - 1}`);
    const put = await client.fetch(`${patch.headers.get("location")}?digest=${sha256(whole)}`, { method: "PUT" });
    assert.equal(put.status, 201);
    const get = await client.fetch(`/v2/u/stream/blobs/${sha256(whole)}`);
    assert.equal(sha256(Buffer.from(await get.arrayBuffer())), sha256(whole));
  });

  test("chunked PATCH with Content-Range, status GET, 416 on out-of-order and repeated chunks, final PUT with last chunk", async () => {
    const data = randomBytes(30_000);
    const chunks = [data.subarray(0, 10_000), data.subarray(10_000, 20_000), data.subarray(20_000)];
    let location = await client.startUpload("u/chunked");
    let res = await client.fetch(location, {
      method: "PATCH",
      body: chunks[0],
      headers: { "Content-Range": "0-9999", "Content-Type": "application/octet-stream" },
    });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get("range"), "0-9999");
    location = res.headers.get("location")!;

    const status = await client.fetch(location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get("range"), "0-9999");
    assert.equal(status.headers.get("location"), location);

    // Out of order: skips bytes 10000-19999.
    res = await client.fetch(location, { method: "PATCH", body: chunks[2], headers: { "Content-Range": "20000-29999" } });
    assert.equal(res.status, 416);
    assert.equal(res.headers.get("range"), "0-9999");
    assert.deepEqual(await errorCodes(res), ["RANGE_INVALID"]);
    // Repeated (stale) chunk.
    res = await client.fetch(location, { method: "PATCH", body: chunks[0], headers: { "Content-Range": "0-9999" } });
    assert.equal(res.status, 416);
    await res.arrayBuffer();

    res = await client.fetch(location, { method: "PATCH", body: chunks[1], headers: { "Content-Range": "10000-19999" } });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get("range"), "0-19999");

    res = await client.fetch(`${location}?digest=${sha256(data)}`, {
      method: "PUT",
      body: chunks[2],
      headers: { "Content-Range": "20000-29999", "Content-Type": "application/octet-stream" },
    });
    assert.equal(res.status, 201);
    const get = await client.fetch(`/v2/u/chunked/blobs/${sha256(data)}`);
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), data);
  });

  test("a chunk whose body disagrees with its Content-Range is refused and rolled back", async () => {
    const location = await client.startUpload("u/size");
    let res = await client.fetch(location, { method: "PATCH", body: randomBytes(20), headers: { "Content-Range": "0-9" } });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["SIZE_INVALID"]);
    // Streamed body longer than the declared range.
    res = await client.fetch(location, { method: "PATCH", body: streamOf(randomBytes(15)), headers: { "Content-Range": "0-9" } });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["SIZE_INVALID"]);
    // Streamed body shorter than the declared range.
    res = await client.fetch(location, { method: "PATCH", body: streamOf(randomBytes(5)), headers: { "Content-Range": "0-9" } });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["SIZE_INVALID"]);
    const status = await client.fetch(location);
    assert.equal(status.headers.get("range"), "0-0");
    const id = location.split("/").pop()!;
    assert.equal(statSync(path.join(server.root, "uploads", id)).size, 0);
  });

  test("a body cut short by the client (truncated upload) is not kept", async () => {
    const location = await client.startUpload("u/truncated");
    const first = randomBytes(1000);
    let res = await client.fetch(location, { method: "PATCH", body: first, headers: { "Content-Range": "0-999" } });
    assert.equal(res.status, 202);
    await sendTruncated(client.url(location), "PATCH", 1_000_000, randomBytes(300_000));
    await new Promise((r) => setTimeout(r, 200));
    res = await client.fetch(location);
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("range"), "0-999");
    const id = location.split("/").pop()!;
    assert.equal(statSync(path.join(server.root, "uploads", id)).size, 1000);
    // The truncated PUT of a whole blob stores nothing either.
    const blob = randomBlob(200_000);
    const location2 = await client.startUpload("u/truncated");
    await sendTruncated(client.url(`${location2}?digest=${blob.digest}`), "PUT", blob.data.length, blob.data.subarray(0, 50_000));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(existsSync(blobFile(server.root, blob.digest)), false);
    res = await client.fetch(`/v2/u/truncated/blobs/${blob.digest}`, { method: "HEAD" });
    assert.equal(res.status, 404);
  });

  test("PUT with a wrong digest: 400 DIGEST_INVALID, nothing stored, session ended", async () => {
    const blob = randomBlob(5000);
    const wrong = sha256("wrong");
    const location = await client.startUpload("u/wrong");
    const res = await client.fetch(`${location}?digest=${wrong}`, { method: "PUT", body: blob.data });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["DIGEST_INVALID"]);
    assert.equal(existsSync(blobFile(server.root, wrong)), false);
    assert.equal(existsSync(blobFile(server.root, blob.digest)), false);
    const head = await client.fetch(`/v2/u/wrong/blobs/${wrong}`, { method: "HEAD" });
    assert.equal(head.status, 404);
  });

  test("PUT without or with a malformed digest is DIGEST_INVALID", async () => {
    const location = await client.startUpload("u/nodigest");
    let res = await client.fetch(location, { method: "PUT", body: "abc" });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["DIGEST_INVALID"]);
    res = await client.fetch(`${location}?digest=sha256:totallywrong`, { method: "PUT", body: "abc" });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["DIGEST_INVALID"]);
  });

  test("unknown upload ids are BLOB_UPLOAD_UNKNOWN on every session route", async () => {
    for (const id of [randomUUID(), "not-a-uuid", "..%2F..%2Fmeta.db"]) {
      for (const method of ["GET", "PATCH", "PUT", "DELETE"]) {
        const res = await client.fetch(`/v2/u/unknown/blobs/uploads/${id}?digest=${sha256("x")}`, {
          method,
          ...(method === "PATCH" || method === "PUT" ? { body: "x" } : {}),
        });
        assert.equal(res.status, 404, `${method} ${id}`);
        assert.deepEqual(await errorCodes(res), ["BLOB_UPLOAD_UNKNOWN"]);
      }
    }
  });

  test("a session belongs to its repository", async () => {
    const location = await client.startUpload("u/mine");
    const res = await client.fetch(location.replace("/u/mine/", "/u/theirs/"));
    assert.equal(res.status, 404);
    assert.deepEqual(await errorCodes(res), ["BLOB_UPLOAD_UNKNOWN"]);
  });

  test("DELETE cancels a session and its temp file", async () => {
    const location = await client.startUpload("u/cancel");
    await client.fetch(location, { method: "PATCH", body: randomBytes(100) });
    const id = location.split("/").pop()!;
    assert.equal(existsSync(path.join(server.root, "uploads", id)), true);
    let res = await client.fetch(location, { method: "DELETE" });
    assert.equal(res.status, 204);
    assert.equal(existsSync(path.join(server.root, "uploads", id)), false);
    res = await client.fetch(location);
    assert.equal(res.status, 404);
    assert.deepEqual(await errorCodes(res), ["BLOB_UPLOAD_UNKNOWN"]);
  });

  test("cross-repository mount with from, automatic mount without, fallback to a session", async () => {
    const blob = randomBlob(4096);
    await client.pushBlob("m/source", blob.data);
    let res = await client.fetch(`/v2/m/target/blobs/uploads/?mount=${blob.digest}&from=m/source`, { method: "POST" });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("location"), `/v2/m/target/blobs/${blob.digest}`);
    assert.equal(res.headers.get("docker-content-digest"), blob.digest);
    res = await client.fetch(`/v2/m/target/blobs/${blob.digest}`);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), blob.data);

    res = await client.fetch(`/v2/m/auto/blobs/uploads/?mount=${blob.digest}`, { method: "POST" });
    assert.equal(res.status, 201);
    res = await client.fetch(`/v2/m/auto/blobs/${blob.digest}`, { method: "HEAD" });
    assert.equal(res.status, 200);

    // Source repository does not hold it: the spec says answer with an upload session.
    res = await client.fetch(`/v2/m/other/blobs/uploads/?mount=${blob.digest}&from=m/nothing`, { method: "POST" });
    assert.equal(res.status, 202);
    assert.match(res.headers.get("location")!, /\/v2\/m\/other\/blobs\/uploads\//);
    res = await client.fetch(`/v2/m/other/blobs/uploads/?mount=${sha256("unknown")}`, { method: "POST" });
    assert.equal(res.status, 202);
    res = await client.fetch(`/v2/m/other/blobs/uploads/?mount=${blob.digest}&from=..%2Fm`, { method: "POST" });
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["NAME_INVALID"]);
  });

  test("eight clients pushing the same 64 MiB blob at once all succeed and one copy is stored", async () => {
    const blob = randomBlob(64 * 1024 * 1024);
    const results = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const location = await client.startUpload(`c/repo${i}`);
        const res = await client.fetch(`${location}?digest=${blob.digest}`, { method: "PUT", body: blob.data });
        return res.status;
      }),
    );
    assert.deepEqual(results, Array(8).fill(201));
    const hex = blob.digest.slice(7);
    assert.deepEqual(readdirSync(path.join(server.root, "blobs", "sha256", hex.slice(0, 2))).filter((f) => f === hex), [hex]);
    assert.equal(statSync(blobFile(server.root, blob.digest)).size, blob.data.length);
    for (let i = 0; i < 8; i++) {
      const res = await client.fetch(`/v2/c/repo${i}/blobs/${blob.digest}`);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), blob.digest);
    }
  });
});

describe("upload sessions survive a restart", () => {
  test("PATCH, restart on the same root, resume from the reported Range, PUT", async () => {
    const root = tempDir();
    const data = randomBytes(3 * 1024 * 1024 + 5);
    let server = await startTestServer({}, root);
    let client = new TestClient(server.url);
    const location = await client.startUpload("resume/me");
    let res = await client.fetch(location, { method: "PATCH", body: data.subarray(0, 2_000_000), headers: { "Content-Range": "0-1999999" } });
    assert.equal(res.status, 202);
    await server.close();

    server = await startTestServer({}, root);
    client = new TestClient(server.url);
    try {
      res = await client.fetch(location);
      assert.equal(res.status, 204);
      assert.equal(res.headers.get("range"), "0-1999999");
      const offset = Number(res.headers.get("range")!.split("-")[1]) + 1;
      res = await client.fetch(location, {
        method: "PATCH",
        body: data.subarray(offset),
        headers: { "Content-Range": `${offset}-${data.length - 1}` },
      });
      assert.equal(res.status, 202);
      res = await client.fetch(`${location}?digest=${sha256(data)}`, { method: "PUT" });
      assert.equal(res.status, 201);
      res = await client.fetch(`/v2/resume/me/blobs/${sha256(data)}`);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(data));
    } finally {
      await server.dispose();
    }
  });
});
