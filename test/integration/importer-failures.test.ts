import assert from "node:assert/strict";
import { openSync, readSync, writeSync, closeSync, copyFileSync, statSync, truncateSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { importImage, ImportError, OUT_OF_SPACE, type ImportRequest } from "../../src/importer/index.js";
import { assertResentFromSession, startCuttingProxy } from "../helpers/cutting-proxy.js";
import { startFileServer, type FileServerBehaviour } from "../helpers/file-server.js";
import { FAST, manifestStatus, publishDisk, publishPlainAndXz, pullImage, uploadSessions, type PublishedDisk } from "../helpers/importer.js";
import { opsConfig } from "../helpers/ops.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";
import { mountTmpfs } from "../helpers/volume.js";

const MiB = 1024 * 1024;

let registry: TestServer;
let work: string;
let qcow2: PublishedDisk;
let xz: PublishedDisk;

before(async () => {
  registry = await startTestServer();
  work = tempDir("dvcr-importer-faults-");
  ({ qcow2, xz } = await publishPlainAndXz(work, 4 * MiB));
});
after(async () => {
  await registry.dispose();
});

async function serveAndImport(published: PublishedDisk, repository: string, behaviour: FileServerBehaviour, extra: Partial<ImportRequest> = {}, file = published.fileName) {
  const server = await startFileServer(path.dirname(published.file), behaviour);
  try {
    const result = await importImage({
      source: { type: "http", url: server.url(file) },
      destination: { registry: registry.url, repository, tag: "latest" },
      tuning: FAST,
      ...extra,
    }).catch((err: unknown) => err as ImportError);
    return { result, requests: server.requests };
  } finally {
    await server.close();
  }
}

async function assertDisk(published: PublishedDisk, repository: string) {
  const pulled = await pullImage(registry.url, repository);
  assert.equal(pulled.disk.digest, published.disk.digest);
}

/** A failed import leaves no tag and no upload session behind. */
async function assertNothingLeft(repository: string, base = registry.url) {
  assert.equal(await manifestStatus(base, repository), 404, "nothing tagged");
  assert.equal(await uploadSessions(base), 0, "no upload session left");
}

function assertFailure(err: unknown, kind: string, message?: RegExp): asserts err is ImportError {
  assert.ok(err instanceof ImportError, `expected an ImportError, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  if (message) assert.match(err.message, message);
}

describe("importer: resuming downloads", () => {
  test("a connection cut half way continues with Range from the last byte, validated by If-Range", async () => {
    const { result, requests } = await serveAndImport(qcow2, "cvi/cut-range", { cutAfter: 1 * MiB + 123 });
    assert.ok(!(result instanceof Error), String(result));
    const gets = requests.filter((r) => r.method === "GET");
    assert.equal(gets.length, 2);
    assert.equal(gets[1]!.range, `bytes=${1 * MiB + 123}-`);
    assert.equal(gets[1]!.ifRange, '"dvcr-test-v1"');
    assert.equal(gets[1]!.status, 206);
    assert.equal(gets[0]!.sent + gets[1]!.sent, qcow2.disk.size, "no byte was downloaded twice");
    await assertDisk(qcow2, "cvi/cut-range");
  });

  test("a server without Range support is read again from byte 0", async () => {
    const { result, requests } = await serveAndImport(xz, "cvi/cut-norange", { ranges: false, cutAfter: 1 * MiB, cutTimes: 2 });
    assert.ok(!(result instanceof Error), String(result));
    const gets = requests.filter((r) => r.method === "GET");
    assert.equal(gets.length, 3);
    assert.ok(gets.every((r) => r.range === undefined && r.status === 200));
    assert.equal(result.sizeFrom, "spool", "no ranged reads: the xz index cannot be read first");
    await assertDisk(xz, "cvi/cut-norange");
  });

  test("no Content-Length: the disk is spooled to learn its size", async () => {
    const { result } = await serveAndImport(qcow2, "cvi/no-length", { contentLength: false });
    assert.ok(!(result instanceof Error), String(result));
    assert.equal(result.sizeFrom, "spool");
    await assertDisk(qcow2, "cvi/no-length");
  });

  test("a stalled connection is cut after the stall timeout and resumed", async () => {
    const started = Date.now();
    const { result, requests } = await serveAndImport(qcow2, "cvi/stall-once", { stallAfter: 512 * 1024 }, { tuning: { ...FAST, stallTimeoutMs: 300 } });
    assert.ok(!(result instanceof Error), String(result));
    assert.equal(requests.filter((r) => r.method === "GET").length, 2);
    assert.equal(requests.at(-1)!.range, `bytes=${512 * 1024}-`);
    assert.ok(Date.now() - started < 10_000);
    await assertDisk(qcow2, "cvi/stall-once");
  });

  test("a source that never sends a byte fails as transient after the tries", async () => {
    const { result } = await serveAndImport(qcow2, "cvi/stall-always", { stallAfter: 0, stallTimes: 100 }, { tuning: { ...FAST, stallTimeoutMs: 200, maxTries: 3 } });
    assertFailure(result, "transient", /stalled/);
    assert.equal(result.retryable, true);
    await assertNothingLeft("cvi/stall-always");
  });

  test("transient 503s are retried", async () => {
    const { result, requests } = await serveAndImport(qcow2, "cvi/retry-503", { failStatus: 503, failTimes: 2 });
    assert.ok(!(result instanceof Error), String(result));
    assert.equal(requests.length, 3);
    await assertDisk(qcow2, "cvi/retry-503");
  });
});

describe("importer: failures that are not retried", () => {
  test("404 fails at once as not-found, 403 as forbidden", async () => {
    const missing = await serveAndImport(qcow2, "cvi/missing", {}, {}, "no-such-file.qcow2");
    assertFailure(missing.result, "not-found", /404/);
    assert.equal(missing.result.retryable, false);
    assert.equal(missing.requests.length, 1, "not retried");
    const denied = await serveAndImport(qcow2, "cvi/denied", { failStatus: 403 });
    assertFailure(denied.result, "forbidden", /403/);
    assert.equal(denied.requests.length, 1);
    await assertNothingLeft("cvi/missing");
  });

  test("a checksum mismatch fails before the layer is committed, nothing tagged", async () => {
    const wrong = "0".repeat(64);
    const { result, requests } = await serveAndImport(qcow2, "cvi/bad-sum", {}, { checksums: [{ algorithm: "md5", hex: qcow2.md5 }, { algorithm: "sha256", hex: wrong }] });
    assertFailure(result, "checksum-mismatch", new RegExp(`sha256 checksum mismatch: the source has ${qcow2.sha256}, expected ${wrong}`));
    assert.equal(result.retryable, false);
    assert.equal(requests.length, 1);
    await assertNothingLeft("cvi/bad-sum");
  });

  test("an unknown checksum algorithm is refused by name before any download", async () => {
    const { result, requests } = await serveAndImport(qcow2, "cvi/streebog", {}, { checksums: [{ algorithm: "streebog256" as "sha256", hex: "00" }] });
    assertFailure(result, "invalid", /unsupported checksum algorithm "streebog256"/);
    assert.equal(requests.length, 0);
  });

  test("corrupt xz data and a truncated xz file fail as corrupt", async () => {
    const dir = path.dirname(xz.file);
    const corrupt = path.join(dir, "corrupt.qcow2.xz");
    copyFileSync(xz.file, corrupt);
    const fd = openSync(corrupt, "r+");
    const middle = Math.floor(statSync(corrupt).size / 2);
    const byte = Buffer.alloc(64);
    readSync(fd, byte, 0, 64, middle);
    for (let i = 0; i < 64; i++) byte[i] = byte[i]! ^ 0xff;
    writeSync(fd, byte, 0, 64, middle);
    closeSync(fd);
    const bad = await serveAndImport(xz, "cvi/corrupt-xz", {}, {}, "corrupt.qcow2.xz");
    assertFailure(bad.result, "corrupt", /xz stream is corrupt/);
    assert.equal(bad.result.retryable, false);
    await assertNothingLeft("cvi/corrupt-xz");

    const truncated = path.join(dir, "truncated.qcow2.xz");
    copyFileSync(xz.file, truncated);
    truncateSync(truncated, statSync(truncated).size - 100);
    const cut = await serveAndImport(xz, "cvi/truncated-xz", {}, {}, "truncated.qcow2.xz");
    assertFailure(cut.result, "corrupt", /xz stream is corrupt/);
    await assertNothingLeft("cvi/truncated-xz");
  });

  test("cancelling stops the import and leaves nothing", async () => {
    const controller = new AbortController();
    const { result } = await serveAndImport(qcow2, "cvi/cancelled", { stallAfter: 1 * MiB }, { signal: controller.signal, onProgress: () => controller.abort(), tuning: { ...FAST, stallTimeoutMs: 60_000 } });
    assertFailure(result, "cancelled");
    await assertNothingLeft("cvi/cancelled");
  });
});

describe("importer: pushing", () => {
  test("a push cut mid-chunk resumes its upload session", async () => {
    let patches = 0;
    const proxy = await startCuttingProxy(registry.url, (req) => req.method === "PATCH" && ++patches === 2);
    try {
      const server = await startFileServer(path.dirname(qcow2.file));
      try {
        const result = await importImage({
          source: { type: "http", url: server.url(qcow2.fileName) },
          destination: { registry: proxy.url, repository: "cvi/push-resume", tag: "latest" },
          tuning: { ...FAST, chunkBytes: 1 * MiB },
        });
        assert.ok(result.manifestDigest.startsWith("sha256:"));
      } finally {
        await server.close();
      }
      assertResentFromSession(proxy);
      await assertDisk(qcow2, "cvi/push-resume");
    } finally {
      await proxy.close();
    }
  });

  test(`a full volume fails at once with 507 "${OUT_OF_SPACE}", not retried, nothing tagged`, async () => {
    const volume = mountTmpfs(48);
    let small: TestServer | undefined;
    try {
      small = await startTestServer({ ...opsConfig({ reserve: { bytes: 4 * MiB, percent: 0 } }) }, volume.dir);
      const big = await publishDisk(path.join(work, "big"), "raw", 64 * MiB);
      const server = await startFileServer(path.dirname(big.file));
      try {
        const err = await importImage({
          source: { type: "http", url: server.url(big.fileName) },
          destination: { registry: small.url, repository: "cvi/too-big", tag: "latest" },
          tuning: { ...FAST, maxTries: 20, retryBaseMs: 1000 },
        }).catch((e: unknown) => e);
        assertFailure(err, "no-space", new RegExp(`^${OUT_OF_SPACE}: STORAGE_FULL`));
        assert.equal(err.retryable, false);
      } finally {
        await server.close();
      }
      await assertNothingLeft("cvi/too-big", small.url);
    } finally {
      await small?.close();
      volume.dispose();
    }
  });
});
