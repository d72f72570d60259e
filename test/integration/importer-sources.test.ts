import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createReadStream, readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { importImage, ImportError } from "../../src/importer/index.js";
import { startFileServer } from "../helpers/file-server.js";
import { FAST, publishDisk, pullImage, type PublishedDisk } from "../helpers/importer.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";

const MiB = 1024 * 1024;

let registry: TestServer;
let work: string;
let xz: PublishedDisk;
let gz: PublishedDisk;

before(async () => {
  registry = await startTestServer();
  work = tempDir("dvcr-import-src-");
  xz = await publishDisk(path.join(work, "xz"), "qcow2", 3 * MiB, "xz");
  gz = await publishDisk(path.join(work, "gz"), "vmdk", 3 * MiB, "gzip");
});
after(async () => {
  await registry.dispose();
});

function destination(repository: string) {
  return { registry: registry.url, repository, tag: "latest" };
}

async function assertDisk(published: PublishedDisk, repository: string) {
  assert.equal((await pullImage(registry.url, repository)).disk.digest, published.disk.digest);
}

/** A self-signed certificate for 127.0.0.1, made by the openssl CLI. */
function selfSigned(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, "server.crt");
  const key = path.join(dir, "server.key");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
    { stdio: "ignore" },
  );
  return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
}

describe("importer: file and upload-stream sources", () => {
  test("a local xz file: the size from its index, no spool", async () => {
    const result = await importImage({ source: { type: "file", path: xz.file }, destination: destination("cvi/file-xz"), tuning: FAST });
    assert.equal(result.sizeFrom, "xz-index");
    assert.equal(result.sourceCompression, "xz");
    await assertDisk(xz, "cvi/file-xz");
  });

  test("an upload stream with its size, and a gzip one without (spooled, the spool removed)", async () => {
    const plain = await importImage({ source: { type: "stream", body: createReadStream(xz.disk.path), size: xz.disk.size, fileName: "upload.qcow2" }, destination: destination("cvi/upload"), tuning: FAST });
    assert.equal(plain.sizeFrom, "source");
    assert.equal((await pullImage(registry.url, "cvi/upload")).entries[1]!.name, "disk/upload.qcow2");
    const spoolDir = tempDir("dvcr-spool-");
    const zipped = await importImage({ source: { type: "stream", body: createReadStream(gz.file), fileName: gz.fileName }, destination: destination("cvi/upload-gz"), tuning: { ...FAST, spoolDir } });
    assert.equal(zipped.sizeFrom, "spool");
    assert.equal(zipped.sourceImageFormat, "vmdk");
    await assertDisk(gz, "cvi/upload-gz");
    assert.deepEqual(execFileSync("ls", ["-A", spoolDir], { encoding: "utf8" }), "", "the spool is removed");
  });

  test("a missing file is not-found", async () => {
    const err = await importImage({ source: { type: "file", path: path.join(work, "nope.img") }, destination: destination("cvi/nope") }).catch((e: unknown) => e);
    assert.ok(err instanceof ImportError && err.kind === "not-found");
  });
});

describe("importer: HTTPS and proxies", () => {
  test("HTTPS with a CA bundle; without it the certificate is refused at once; insecure skips the check", async () => {
    const pair = selfSigned(tempDir("dvcr-tls-"));
    const server = await startFileServer(path.dirname(xz.file), { tls: pair });
    try {
      const url = server.url(xz.fileName);
      await importImage({ source: { type: "http", url, caBundle: pair.cert }, destination: destination("cvi/https"), tuning: FAST });
      await assertDisk(xz, "cvi/https");
      const refused = await importImage({ source: { type: "http", url }, destination: destination("cvi/https-untrusted"), tuning: FAST }).catch((e: unknown) => e);
      assert.ok(refused instanceof ImportError, String(refused));
      assert.equal(refused.kind, "invalid");
      assert.match(refused.message, /TLS certificate not trusted/);
      await importImage({ source: { type: "http", url, insecure: true }, destination: destination("cvi/https-insecure"), tuning: FAST });
      await assertDisk(xz, "cvi/https-insecure");
    } finally {
      await server.close();
    }
  });

  test("http_proxy is used for the download (and no_proxy honoured)", async () => {
    const seen: string[] = [];
    const proxy = http.createServer((req, res) => {
      // Absolute-form requests of a plain forward proxy.
      seen.push(`${req.method} ${req.url}`);
      const target = new URL(req.url!);
      const upstream = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      req.pipe(upstream);
    });
    proxy.on("connect", (req, socket, head) => {
      seen.push(`CONNECT ${req.url}`);
      const [host, port] = req.url!.split(":");
      const upstream = net.connect(Number(port), host, () => {
        socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on("error", () => socket.destroy());
      socket.on("error", () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const files = await startFileServer(path.dirname(xz.file));
    const saved = { http_proxy: process.env.http_proxy, no_proxy: process.env.no_proxy };
    try {
      process.env.http_proxy = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const fileHost = new URL(files.url(xz.fileName)).host;
      await importImage({ source: { type: "http", url: files.url(xz.fileName) }, destination: destination("cvi/proxied"), tuning: FAST });
      assert.ok(seen.some((s) => s.includes(fileHost)), `the proxy carried the download: ${seen.join(", ")}`);
      await assertDisk(xz, "cvi/proxied");
      seen.length = 0;
      process.env.no_proxy = "127.0.0.1";
      await importImage({ source: { type: "http", url: files.url(xz.fileName) }, destination: destination("cvi/not-proxied"), tuning: FAST });
      assert.deepEqual(seen, [], "no_proxy bypasses the proxy");
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await files.close();
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
