import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Writable } from "node:stream";
import { DEFAULT_CONFIG, type Config } from "../../src/config/config.js";
import { createLogger } from "../../src/http/logger.js";
import { startServer } from "../../src/http/server.js";
import { TestClient, errorCodes, randomBlob, sha256 } from "../helpers/client.js";
import { RawConnection, openDescriptors } from "../helpers/raw-socket.js";
import { startChildServer, startTestServer, tempDir, type TestServer } from "../helpers/server.js";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `PATCH` request head for an upload session (`location` as the POST returned it). */
function patchHead(location: string, headers: Record<string, string | number>): string {
  return `PATCH ${location} HTTP/1.1\r\nHost: x\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;
}

describe("hardening: timeouts keep connections, descriptors and memory bounded", () => {
  let server: TestServer;
  let client: TestClient;
  before(async () => {
    server = await startTestServer({ http: { ...DEFAULT_CONFIG.http, bodyIdleTimeout: 400, sendIdleTimeout: 400 } });
    client = new TestClient(server.url);
  });
  after(() => server.dispose());

  test("stalled request bodies are cut after http.bodyIdleTimeout, and their descriptors come back", async () => {
    const baseline = openDescriptors();
    const stalled: RawConnection[] = [];
    for (let i = 0; i < 40; i++) {
      const location = await client.startUpload("hard/stall");
      const conn = await RawConnection.open(server.url);
      conn.write(patchHead(location, { "Content-Length": 1024 * 1024, "Content-Type": "application/octet-stream" }));
      conn.write(randomBytes(4096));
      stalled.push(conn);
    }
    await sleep(150);
    assert.ok(openDescriptors() >= baseline + 40, "the stalled uploads hold sockets (and upload files) for now");
    const cut = await Promise.all(stalled.map((c) => c.closedWithin(5000)));
    assert.deepEqual(cut.filter((c) => !c).length, 0, "every stalled body was cut");
    await sleep(100);
    assert.ok(openDescriptors() <= baseline + 5, `descriptors back near the baseline (${openDescriptors()} vs ${baseline})`);
    // The registry still takes uploads.
    const blob = randomBlob(10_000);
    assert.equal(await client.pushBlob("hard/after", blob.data), blob.digest);
  });

  test("a slow but moving body is never cut (inactivity, not total time)", async () => {
    const location = await client.startUpload("hard/slow");
    const conn = await RawConnection.open(server.url);
    const pieces = Array.from({ length: 12 }, () => randomBytes(1000));
    conn.write(patchHead(location, { "Content-Length": 12_000 }));
    for (const piece of pieces) {
      await sleep(150); // 1.8 s in all, each gap well under the 400 ms idle timeout
      conn.write(piece);
    }
    const res = await conn.response();
    assert.equal(res.status, 202);
    assert.equal(res.headers.range, "0-11999");
    conn.destroy();
    const done = await client.fetch(`${location}?digest=${sha256(Buffer.concat(pieces))}`, { method: "PUT" });
    assert.equal(done.status, 201);
  });

  test("a reader that stops reading is cut after http.sendIdleTimeout", async () => {
    const blob = randomBlob(48 * 1024 * 1024);
    await client.pushBlob("hard/pull", blob.data);
    const connections = () => new Promise<number>((resolve, reject) => server.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    const before = await connections(); // the test client's kept-alive connections
    const conn = await RawConnection.open(server.url);
    conn.write(`GET /v2/hard/pull/blobs/${blob.digest} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await sleep(100);
    conn.socket.pause(); // stop reading: the kernel buffers fill, the server's writes stall
    let open = await connections();
    assert.equal(open, before + 1, "the reader's connection is open while it reads");
    for (let waited = 0; open > before && waited < 5000; waited += 100) {
      await sleep(100);
      open = await connections();
    }
    assert.equal(open, before, "the server closed the connection of the reader that stopped");
    conn.socket.resume();
    await conn.closedWithin(2000);
    assert.ok(conn.received.length < blob.data.length, "the reader got a short body, not the whole blob");
  });
});

describe("hardening: refused bodies, methods, parser errors and sizes", () => {
  let server: TestServer;
  let client: TestClient;
  before(async () => {
    server = await startTestServer({ storage: { ...DEFAULT_CONFIG.storage, maxManifestBytes: 1024 } });
    client = new TestClient(server.url);
  });
  after(() => server.dispose());

  test("a chunked body refused mid-way (413) closes the connection instead of leaving it hanging", async () => {
    const conn = await RawConnection.open(server.url);
    conn.write("PUT /v2/hard/m/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\n\r\n");
    conn.write(`1000\r\n${"x".repeat(0x1000)}\r\n`);
    const res = await conn.response();
    assert.equal(res.status, 413);
    assert.equal(res.headers.connection, "close");
    assert.deepEqual(JSON.parse(res.body).errors.map((e: { code: string }) => e.code), ["SIZE_INVALID"]);
    // A client that goes on with its next request on this connection is not left waiting.
    conn.write("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.ok(await conn.closedWithin(2000), "the connection was closed after the refusal");
  });

  test("unknown methods answer 405 with a spec body (not 501), with Allow where the path has routes", async () => {
    const cases: [string, string, string | undefined][] = [
      ["PROPFIND", "/v2/hard/x/manifests/v1", "GET, HEAD, PUT, DELETE"],
      ["TRACE", "/v2/", "GET, HEAD"],
      ["MKCOL", "/nothing-here", undefined],
      // Not a method Node's parser knows: answered from the server's clientError.
      ["FROB", "/v2/", undefined],
    ];
    for (const [method, path, allow] of cases) {
      const conn = await RawConnection.open(server.url);
      conn.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      const res = await conn.response();
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.allow, allow, method);
      assert.equal(res.headers["content-type"]?.split(";")[0], "application/json", method);
      assert.deepEqual(JSON.parse(res.body).errors.map((e: { code: string }) => e.code), ["UNSUPPORTED"], method);
      conn.destroy();
    }
  });

  test("what Node's parser refuses (bad framing, oversized headers) gets a spec JSON body", async () => {
    const cases: [string, number][] = [
      ["GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400],
      [`GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431],
    ];
    for (const [request, status] of cases) {
      const conn = await RawConnection.open(server.url);
      conn.write(request);
      const res = await conn.response();
      assert.equal(res.status, status);
      assert.equal(res.headers["docker-distribution-api-version"], "registry/2.0");
      const body = JSON.parse(res.body) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors.length, 1);
      assert.equal(typeof body.errors[0]!.message, "string");
      assert.ok(await conn.closedWithin(2000));
    }
  });

  test("an impossible Content-Range is a 4xx, and the session stays usable", async () => {
    const location = await client.startUpload("hard/range");
    const first = randomBytes(1000);
    for (const range of ["0-99999999999999999999", "bytes 0-99/50"]) {
      const res = await client.fetch(location, { method: "PATCH", body: first, headers: { "Content-Range": range } });
      assert.equal(res.status, 400, range);
      assert.deepEqual(await errorCodes(res), ["BLOB_UPLOAD_INVALID"], range);
      assert.equal((await client.fetch(location)).status, 204, `${range}: the session is still there`);
    }
    const huge = await client.fetch(location, { method: "PATCH", body: first, headers: { "Content-Length": "99999999999999999999" } }).catch(() => undefined);
    if (huge) assert.ok(huge.status >= 400 && huge.status < 500);
    const ok = await client.fetch(location, { method: "PATCH", body: first, headers: { "Content-Range": "0-999" } });
    assert.equal(ok.status, 202);
    assert.equal((await client.fetch(`${location}?digest=${sha256(first)}`, { method: "PUT" })).status, 201);
  });

  test("error bodies stay small whatever the request held (a manifest with 24k malformed layers)", async () => {
    const big = await startTestServer({ storage: { ...DEFAULT_CONFIG.storage, maxManifestBytes: 8 * 1024 * 1024 } });
    try {
      const layers = Array.from({ length: 24_000 }, () => ({ mediaType: 5, digest: 7, size: -1 }));
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256("config"), size: 100 },
        layers,
      });
      const res = await new TestClient(big.url).pushManifest("hard/many", "v1", manifest, "application/vnd.oci.image.manifest.v1+json");
      assert.equal(res.status, 400);
      const text = await res.text();
      assert.ok(text.length < 40 * 1024, `error body of ${text.length} bytes`);
      const error = (JSON.parse(text) as { errors: { code: string; detail: { issues: unknown[] } }[] }).errors[0]!;
      assert.equal(error.code, "MANIFEST_INVALID");
      // The first issues are there to read, and how many more were left out is said.
      assert.ok(error.detail.issues.length > 1);
      assert.match(String(error.detail.issues.at(-1)), /^… \d+ more$/);
    } finally {
      await big.dispose();
    }
  });
});

describe("hardening: a connection cap", () => {
  test("connections beyond http.maxConnections are refused at accept; the ones served go on", async () => {
    const server = await startTestServer({ http: { ...DEFAULT_CONFIG.http, maxConnections: 2 } });
    try {
      const first = await RawConnection.open(server.url);
      const second = await RawConnection.open(server.url);
      await sleep(100);
      const third = await RawConnection.open(server.url);
      assert.ok(await third.closedWithin(2000), "the third connection was refused");
      first.write("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal((await first.response()).status, 200);
      second.destroy();
      await sleep(100);
      const again = await RawConnection.open(server.url);
      again.write("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal((await again.response()).status, 200, "a freed slot is served");
      first.destroy();
      again.destroy();
    } finally {
      await server.dispose();
    }
  });
});

describe("hardening: what operators must see in the logs", () => {
  test("a reserve above half the volume is warned of at start, and every 507 is logged", async () => {
    const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const root = tempDir();
    const config: Config = { ...DEFAULT_CONFIG, listen: "127.0.0.1:0", root, storage: { ...DEFAULT_CONFIG.storage, reserve: { bytes: 2 ** 50, percent: 1 } } };
    const running = await startServer(config, createLogger("info", destination));
    try {
      const warning = lines.find((l) => l.msg.includes("storage.reserve"));
      assert.ok(warning, "a start-up warning about the reserve");
      assert.equal(warning.level, 40);
      assert.match(warning.msg, /more than half of it is closed to uploads/);
      const res = await fetch(`${running.url}/v2/hard/full/blobs/uploads/`, { method: "POST" });
      assert.equal(res.status, 507);
      const logged = lines.find((l) => l.level === 40 && String(l.msg).includes("storage volume is full"));
      assert.ok(logged, `the 507 is logged (${JSON.stringify(lines.map((l) => l.msg))})`);
      assert.equal(logged.path, "/v2/hard/full/blobs/uploads/");
    } finally {
      await running.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("hardening: out of file descriptors", () => {
  test("stalled uploads exhausting the descriptor limit get 503 UNAVAILABLE (never 500), and the registry recovers once they time out", async () => {
    const root = tempDir();
    const configFile = path.join(root, "..", `${path.basename(root)}.yaml`);
    writeFileSync(configFile, "http: {bodyIdleTimeout: 3s}\n");
    const child = await startChildServer(root, ["--config", configFile], { descriptorLimit: 160 });
    const url = child.url;
    const conns: RawConnection[] = [];
    try {
      const client = new TestClient(url);
      // A connection opened while descriptors are still free, kept alive for later.
      const keeper = await RawConnection.open(url);
      keeper.write("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal((await keeper.response()).status, 200);
      keeper.received = Buffer.alloc(0);
      // Stalled PATCHes, each holding a socket and an upload file, until no more fit.
      for (let i = 0; i < 200; i++) {
        let location: string;
        try {
          location = await client.startUpload("fd/stall");
        } catch {
          break; // a session can no longer be opened: out of descriptors
        }
        const conn = await RawConnection.open(url).catch(() => undefined);
        if (!conn) break;
        conn.write(patchHead(location, { "Content-Length": 1024 * 1024 }));
        conn.write(randomBytes(2048));
        conns.push(conn);
        await sleep(20);
      }
      keeper.write("POST /v2/fd/more/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
      const refused = await keeper.response();
      assert.equal(refused.status, 503, refused.body);
      assert.equal(JSON.parse(refused.body).errors[0].code, "UNAVAILABLE");
      assert.match(refused.headers["retry-after"] ?? "", /^\d+$/);
      // The idle timeout frees the descriptors: uploads work again.
      await Promise.all(conns.map((c) => c.closedWithin(10_000)));
      await sleep(300);
      const blob = randomBlob(50_000);
      assert.equal(await new TestClient(url).pushBlob("fd/after", blob.data), blob.digest);
      keeper.destroy();
    } finally {
      for (const c of conns) c.destroy();
      await child.kill("SIGKILL");
      rmSync(root, { recursive: true, force: true });
      rmSync(configFile, { force: true });
    }
  });
});
