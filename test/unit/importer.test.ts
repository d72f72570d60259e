import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { importerEnvironment } from "../../src/cli/importer-env.js";
import { decompressedFileName, detectCompression } from "../../src/importer/compression.js";
import { parseChecksumList, credentialsFromAuthFile, ImportError, parseImageReference } from "../../src/importer/index.js";
import { parseChallenge } from "../../src/importer/registry-auth.js";
import { backoffDelay, retryPolicy } from "../../src/importer/retry.js";
import { xzUncompressedSize } from "../../src/importer/xz-index.js";

function fileReader(file: string) {
  const data = readFileSync(file);
  return { size: data.length, read: async (start: number, end: number) => data.subarray(start, end + 1) };
}

/** What xz itself says the file decompresses to. */
function xzListSize(file: string): number {
  const totals = execFileSync("xz", ["--robot", "--list", file], { encoding: "utf8" }).split("\n").find((l) => l.startsWith("totals"))!;
  return Number(totals.split("\t")[4]);
}

describe("xz index", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-xz-"));
  const cases: [string, (file: string) => void][] = [
    ["one block", (f) => execFileSync("xz", ["-0", "-k", "-f", f])],
    ["many blocks (xz -T2 --block-size)", (f) => execFileSync("xz", ["-0", "-T2", "--block-size=64KiB", "-k", "-f", f])],
    [
      "two concatenated streams with padding between and after",
      (f) => {
        execFileSync("xz", ["-0", "-k", "-f", f]);
        const first = readFileSync(`${f}.xz`);
        writeFileSync(`${f}.xz`, Buffer.concat([first, Buffer.alloc(8), first, Buffer.alloc(4)]));
      },
    ],
  ];
  for (const [name, compress] of cases) {
    test(`${name}: the size xz --robot --list reports, from three reads per stream`, async () => {
      const file = path.join(dir, `${name.replace(/\W+/g, "-")}.bin`);
      writeFileSync(file, Buffer.concat([randomBytes(300_000), Buffer.alloc(500_000)]));
      compress(file);
      const { size, read } = fileReader(`${file}.xz`);
      let reads = 0;
      const counted = async (s: number, e: number) => (reads++, read(s, e));
      assert.equal(await xzUncompressedSize(counted, size), xzListSize(`${file}.xz`));
      assert.ok(reads <= 3 * 2 + 3, `${reads} reads`);
    });
  }

  test("a truncated or damaged file is corrupt, not a wrong size", async () => {
    const file = path.join(dir, "t.bin");
    writeFileSync(file, randomBytes(100_000));
    execFileSync("xz", ["-0", "-k", "-f", file]);
    const data = readFileSync(`${file}.xz`);
    for (const broken of [data.subarray(0, data.length - 10), Buffer.concat([data.subarray(0, data.length - 20), Buffer.alloc(8, 0x55), data.subarray(data.length - 12)])]) {
      await assert.rejects(
        xzUncompressedSize(async (s, e) => broken.subarray(s, e + 1), broken.length),
        (err: unknown) => err instanceof ImportError && err.kind === "corrupt",
      );
    }
  });
});

describe("importer: parsing", () => {
  test("compression by magic bytes, and the file name without its suffix", () => {
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0])), "gzip");
    assert.equal(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), "xz");
    assert.equal(detectCompression(Buffer.from("QFI\xfb\0\0", "latin1")), "none");
    // A raw disk may begin with 1f 8b by chance: without deflate (8) and clear reserved flags it is not gzip.
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 0x3c, 0, 0, 0])), "none");
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0xe0, 0, 0])), "none");
    assert.equal(decompressedFileName("ubuntu.qcow2.xz", "xz"), "ubuntu.qcow2");
    assert.equal(decompressedFileName("disk.img.GZ", "gzip"), "disk.img");
    assert.equal(decompressedFileName("disk.img", "xz"), "disk.img");
    assert.equal(decompressedFileName(".xz", "xz"), ".xz");
  });

  test("checksums: algo:hex lists, unknown algorithms refused by name, hex checked", () => {
    assert.deepEqual(parseChecksumList(`MD5:${"A".repeat(32)}, sha1:${"0".repeat(40)}`), [
      { algorithm: "md5", hex: "a".repeat(32) },
      { algorithm: "sha1", hex: "0".repeat(40) },
    ]);
    assert.throws(() => parseChecksumList("streebog256:00"), /unsupported checksum algorithm "streebog256"/);
    assert.throws(() => parseChecksumList("sha256:abc"), /64 hex digits/);
    assert.throws(() => parseChecksumList("sha256"), /not algo:hex/);
  });

  test("image references: host, port, nested repository, tag or digest, docker:// and an explicit scheme", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    assert.deepEqual(parseImageReference("docker://127.0.0.1:5000/cvi/x:v1"), { host: "127.0.0.1:5000", repository: "cvi/x", reference: "v1", scheme: undefined });
    assert.deepEqual(parseImageReference(`dvcr.d8-virtualization.svc/vi/ns/name@${digest}`), { host: "dvcr.d8-virtualization.svc", repository: "vi/ns/name", reference: digest, scheme: undefined });
    assert.deepEqual(parseImageReference("http://localhost:5000/a/b"), { host: "localhost:5000", repository: "a/b", reference: "latest", scheme: "http" });
    assert.deepEqual(parseImageReference("ubuntu:22.04"), { host: "registry-1.docker.io", repository: "library/ubuntu", reference: "22.04", scheme: undefined });
    assert.throws(() => parseImageReference("host:5000/UPPER/case"), /not an image reference/);
  });

  test("WWW-Authenticate challenges", () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://r/auth/token",service="dvcr",scope="repository:cvi/x:pull,push"'), {
      scheme: "bearer",
      params: { realm: "https://r/auth/token", service: "dvcr", scope: "repository:cvi/x:pull,push" },
    });
    assert.deepEqual(parseChallenge('Basic realm="dvcr"'), { scheme: "basic", params: { realm: "dvcr" } });
  });

  test("docker config JSON: auth or username/password, keys with a scheme or path", () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "dvcr-authfile-")), "config.json");
    writeFileSync(
      file,
      JSON.stringify({ auths: { "https://reg.example:5000/v1/": { auth: Buffer.from("u1:p:1").toString("base64") }, "other.example": { username: "u2", password: "p2" } } }),
    );
    assert.deepEqual(credentialsFromAuthFile(file, "reg.example:5000"), { username: "u1", password: "p:1" });
    assert.deepEqual(credentialsFromAuthFile(file, "other.example"), { username: "u2", password: "p2" });
    assert.equal(credentialsFromAuthFile(file, "third.example"), undefined);
    appendFileSync(file, "garbage");
    assert.throws(() => credentialsFromAuthFile(file, "other.example"), /cannot read the docker config/);
  });

  test("retries: 1 s, ×3, capped at 1 min, 20 tries", () => {
    const policy = retryPolicy();
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n)), [1000, 3000, 9000, 27000, 60000, 60000]);
    assert.equal(policy.maxTries, 20);
  });
});

describe("DVCR's importer environment", () => {
  const base = { IMPORTER_DESTINATION_ENDPOINT: "dvcr.d8-virtualization.svc/cvi/ubuntu:latest", DESTINATION_INSECURE_TLS: "true" };

  test("http with checksums, a cert dir, Basic credentials and insecure TLS", () => {
    const certs = mkdtempSync(path.join(os.tmpdir(), "dvcr-certs-"));
    writeFileSync(path.join(certs, "a.crt"), "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n");
    writeFileSync(path.join(certs, "ignored.txt"), "x");
    const env = importerEnvironment({
      ...base,
      IMPORTER_SOURCE: "http",
      IMPORTER_ENDPOINT: "https://mirror.example/ubuntu.qcow2.xz",
      IMPORTER_CHECKSUMS: `sha256:${"b".repeat(64)}`,
      IMPORTER_CERT_DIR: certs,
      IMPORTER_ACCESS_KEY_ID: "key",
      IMPORTER_SECRET_KEY: "secret",
      INSECURE_TLS: "true",
      OWNER_UID: "uid-1",
    });
    assert.deepEqual(env.request.source, {
      type: "http",
      url: "https://mirror.example/ubuntu.qcow2.xz",
      caBundle: "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n",
      credentials: { username: "key", password: "secret" },
      insecure: true,
    });
    assert.deepEqual(env.request.destination, { registry: "dvcr.d8-virtualization.svc", repository: "cvi/ubuntu", tag: "latest", insecure: true, authFile: undefined });
    assert.deepEqual(env.request.checksums, [{ algorithm: "sha256", hex: "b".repeat(64) }]);
    assert.equal(env.ownerUid, "uid-1");
    assert.equal(env.metricsListen, "0.0.0.0:8443");
    assert.equal(env.terminationMessagePath, "/dev/termination-log");
  });

  test("registry, dvcr and filesystem sources; TERMINATION_MESSAGE_PATH; refusals", () => {
    const registry = importerEnvironment({ ...base, IMPORTER_SOURCE: "registry", IMPORTER_ENDPOINT: "docker://quay.example/os/img:1", IMPORTER_AUTH_CONFIG: "/secret/.dockerconfigjson", TERMINATION_MESSAGE_PATH: "/tmp/t" });
    assert.equal(registry.request.source.type, "registry");
    assert.equal((registry.request.source as { authFile?: string }).authFile, "/secret/.dockerconfigjson");
    assert.equal(registry.terminationMessagePath, "/tmp/t");
    const dvcr = importerEnvironment({ ...base, IMPORTER_SOURCE: "dvcr", IMPORTER_ENDPOINT: "dvcr.d8-virtualization.svc/vi/ns/disk:latest" });
    assert.deepEqual(dvcr.request.source, { type: "dvcr", repository: "vi/ns/disk", reference: "latest" });
    assert.deepEqual(importerEnvironment({ ...base, IMPORTER_SOURCE: "filesystem", IMPORTER_ENDPOINT: "/data/disk.img" }).request.source, { type: "file", path: "/data/disk.img" });
    assert.throws(() => importerEnvironment({ ...base, IMPORTER_SOURCE: "dvcr", IMPORTER_ENDPOINT: "elsewhere.example/vi/ns/disk:latest" }), /not on the destination registry/);
    assert.throws(() => importerEnvironment({ ...base, IMPORTER_SOURCE: "blockDevice", IMPORTER_ENDPOINT: "/dev/sda" }), /"blockDevice" is not supported/);
    assert.throws(() => importerEnvironment({ IMPORTER_SOURCE: "http", IMPORTER_ENDPOINT: "http://x/y" }), /IMPORTER_DESTINATION_ENDPOINT is not set/);
  });
});
