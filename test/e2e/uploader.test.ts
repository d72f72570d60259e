import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync, closeSync, writeFileSync, statSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { createAuthFixture, type AuthFixture } from "../helpers/auth.js";
import { diskFixture, expectedLabels, manifestStatus, pullImage, type PublishedDisk } from "../helpers/importer.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { curl, spawnUploader, type UploaderProcess } from "./helpers/uploader.js";

const MiB = 1024 * 1024;

const fixture = diskFixture("dvcr-uploader-", 6 * MiB);

function host(server: TestServer = fixture.registry): string {
  return new URL(server.url).host;
}

/** The uploader's own TMPDIR, where an xz upload's decompressed disk is spooled. */
function spoolDir(name: string): string {
  const dir = path.join(fixture.work, `tmp-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Until the upload's decompressed disk is being written to the uploader's TMPDIR. */
async function spoolStarted(tmp: string): Promise<void> {
  for (let i = 0; i < 100 && readdirSync(tmp).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(readdirSync(tmp).length, 1, "the xz upload is being spooled");
}

function uploaderEnv(repository: string, extra: Record<string, string> = {}): Record<string, string> {
  return { UPLOADER_DESTINATION_ENDPOINT: `${host()}/${repository}:latest`, DESTINATION_INSECURE_TLS: "true", ...extra };
}

/** The image as a disk importer reads it: one `disk/<file>` entry whose bytes are the uploaded disk's. */
async function assertUploadedImage(repository: string, disk: PublishedDisk): Promise<void> {
  const pulled = await pullImage(fixture.registry.url, repository);
  assert.deepEqual(
    pulled.entries.map((e) => [e.name, e.type]),
    [["disk", "directory"], ["disk/disk.img", "file"]],
  );
  assert.equal(pulled.disk.size, disk.disk.size);
  assert.equal(pulled.disk.digest, disk.disk.digest, "the disk in the layer is the decompressed source, byte for byte");
  assert.deepEqual(pulled.labels, await expectedLabels(disk.disk));
}

async function refused(url: string): Promise<boolean> {
  return fetch(url).then(
    () => false,
    () => true,
  );
}

/** A copy of the xz source with garbage over its middle: xz -dc fails on it ("compressed data is corrupt"). */
function corruptCopy(source: string): string {
  const file = path.join(fixture.work, "corrupt.qcow2.xz");
  copyFileSync(source, file);
  const size = statSync(file).size;
  const fd = openSync(file, "r+");
  writeSync(fd, Buffer.alloc(64 * 1024, 0x5a), 0, 64 * 1024, Math.floor(size / 2));
  closeSync(fd);
  return file;
}

describe("dvcr uploader", () => {
  test("curl -T a qcow2: probe and healthz 200, other paths 404, other methods 405; the upload answers 200, the image holds the disk, the termination report, exit 0 with both ports closed", async () => {
    const termination = path.join(fixture.work, "termination-qcow2");
    const uploader = await spawnUploader(uploaderEnv("cvi/uploaded", { TERMINATION_MESSAGE_PATH: termination, OWNER_UID: "uid-1" }));
    try {
      assert.equal((await curl(uploader.uploadUrl)).status, 200);
      const health = await curl(uploader.healthzUrl);
      assert.equal(health.status, 200);
      assert.equal((await curl(uploader.uploadUrl.replace("/upload", "/other"))).status, 404);
      const deleted = await curl(uploader.uploadUrl, ["-X", "DELETE"]);
      assert.equal(deleted.status, 405);
      assert.match(JSON.parse(deleted.body).message, /DELETE is not allowed/);

      const answer = await curl(uploader.uploadUrl, ["-T", fixture.qcow2.file]);
      assert.equal(answer.status, 200, answer.body);
      const result = JSON.parse(answer.body);
      assert.equal(result.sourceImageFormat, "qcow2");
      assert.equal(await uploader.exited, 0, uploader.stderr());
      assert.ok(await refused(uploader.uploadUrl), "the upload port is closed");
      assert.ok(await refused(uploader.healthzUrl), "the healthz port is closed");

      await assertUploadedImage("cvi/uploaded", fixture.qcow2);
      const pulled = await pullImage(fixture.registry.url, "cvi/uploaded");
      assert.equal(pulled.manifest.digest, result.manifestDigest);
      const report = JSON.parse(readFileSync(termination, "utf8"));
      assert.equal(report["source-image-size"], fixture.qcow2.disk.size);
      assert.equal(report["source-image-format"], "qcow2");
      assert.ok(report.duration > 0 && report["average-speed"] > 0);
      assert.equal(report["error-message"], undefined);
    } finally {
      await uploader.kill("SIGKILL");
    }
  });

  test("a corrupt xz is answered 400 with a message, its spool freed, and the uploader keeps waiting; a good xz upload then succeeds", async () => {
    const tmp = spoolDir("xz");
    const uploader = await spawnUploader(uploaderEnv("vi/ns/uploaded-xz", { TMPDIR: tmp, TERMINATION_MESSAGE_PATH: path.join(fixture.work, "termination-xz") }));
    try {
      const bad = await curl(uploader.uploadUrl, ["-T", corruptCopy(fixture.xz.file)]);
      assert.equal(bad.status, 400, bad.body);
      assert.match(JSON.parse(bad.body).message, /xz|corrupt/i);
      assert.deepEqual(readdirSync(tmp), [], "the failed upload's spool is removed");
      assert.equal(await manifestStatus(fixture.registry.url, "vi/ns/uploaded-xz"), 404);
      assert.equal((await curl(uploader.uploadUrl)).status, 200, "still serving after the failure");

      const good = await curl(uploader.uploadUrl, ["-T", fixture.xz.file]);
      assert.equal(good.status, 200, good.body);
      assert.equal(await uploader.exited, 0, uploader.stderr());
      await assertUploadedImage("vi/ns/uploaded-xz", fixture.xz);
      assert.deepEqual(readdirSync(tmp), [], "the spool is removed after the push");
    } finally {
      await uploader.kill("SIGKILL");
    }
  });

  test("a chunked body (no Content-Length) is spooled to learn its size and pushed", async () => {
    const tmp = spoolDir("chunked");
    const uploader = await spawnUploader(uploaderEnv("cvi/chunked", { TMPDIR: tmp }));
    try {
      const answer = await curl(uploader.uploadUrl, ["-T", fixture.qcow2.file, "-H", "Transfer-Encoding: chunked"]);
      assert.equal(answer.status, 200, answer.body);
      assert.match(uploader.stderr(), /upload started \(chunked\)/);
      assert.equal(await uploader.exited, 0, uploader.stderr());
      await assertUploadedImage("cvi/chunked", fixture.qcow2);
      assert.deepEqual(readdirSync(tmp), []);
    } finally {
      await uploader.kill("SIGKILL");
    }
  });

  test("a client that drops mid-upload: the upload fails, its spool is freed, the next one is accepted", async () => {
    const tmp = spoolDir("dropped");
    const uploader = await spawnUploader(uploaderEnv("cvi/dropped", { TMPDIR: tmp }));
    try {
      const client = spawn("curl", ["-sS", "-T", fixture.xz.file, "--limit-rate", "200K", uploader.uploadUrl], { stdio: "ignore" });
      await uploader.waitForLog(/upload started/);
      await spoolStarted(tmp);
      client.kill("SIGKILL");
      await uploader.waitForLog(/upload failed \(400 cut\)/);
      assert.deepEqual(readdirSync(tmp), []);
      assert.equal(await manifestStatus(fixture.registry.url, "cvi/dropped"), 404);
      const answer = await curl(uploader.uploadUrl, ["-T", fixture.qcow2.file]);
      assert.equal(answer.status, 200, answer.body);
      assert.equal(await uploader.exited, 0, uploader.stderr());
      await assertUploadedImage("cvi/dropped", fixture.qcow2);
    } finally {
      await uploader.kill("SIGKILL");
    }
  });

  test("a second upload while one is in flight gets 503; progress from Content-Length on the gauges; the first completes", async () => {
    const uploader = await spawnUploader(uploaderEnv("cvi/concurrent", { IMPORTER_METRICS_LISTEN: "127.0.0.1:0", OWNER_UID: "uid-3" }));
    try {
      const metrics = /uploader metrics on (http:\/\/\S+)/.exec(uploader.stderr())?.[1];
      assert.ok(metrics, uploader.stderr());
      // 6 MiB of disk at 2 MiB/s: a few seconds in flight.
      const first = curl(uploader.uploadUrl, ["-T", fixture.qcow2.file, "--limit-rate", "2M"]);
      await uploader.waitForLog(/upload started \(\d+ bytes\)/);
      const second = await curl(uploader.uploadUrl, ["-T", fixture.qcow2.file]);
      assert.equal(second.status, 503, second.body);
      assert.match(JSON.parse(second.body).message, /another upload is in progress/);
      const probe = await curl(uploader.uploadUrl);
      assert.equal(probe.status, 200);

      let progress = 0;
      for (let i = 0; i < 100 && !(progress > 0 && progress < 100); i++) {
        const text = await fetch(metrics).then((r) => r.text());
        progress = Number(/registry_progress\{ownerUID="uid-3"\} (\S+)/.exec(text)?.[1] ?? 0);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(progress > 0 && progress < 100, `progress mid-upload: ${progress}`);

      const answer = await first;
      assert.equal(answer.status, 200, answer.body);
      assert.equal(await uploader.exited, 0, uploader.stderr());
      await assertUploadedImage("cvi/concurrent", fixture.qcow2);
    } finally {
      await uploader.kill("SIGKILL");
    }
  });

  test("no upload within UPLOADER_WAIT_TIMEOUT: exit 1 with the reason in the termination report", async () => {
    const termination = path.join(fixture.work, "termination-timeout");
    const started = Date.now();
    const uploader = await spawnUploader(uploaderEnv("cvi/never", { UPLOADER_WAIT_TIMEOUT: "1s", TERMINATION_MESSAGE_PATH: termination }));
    try {
      assert.equal((await curl(uploader.healthzUrl)).status, 200);
      assert.equal(await uploader.exited, 1);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 1000 && elapsed < 10_000, `exited after ${elapsed} ms`);
      assert.match(JSON.parse(readFileSync(termination, "utf8"))["error-message"], /no upload started within 1 s/);
    } finally {
      await uploader.kill("SIGKILL");
    }
  });

  test("SIGTERM during an upload: the upload is cancelled, its spool freed, nothing tagged, a prompt exit", async () => {
    const tmp = spoolDir("sigterm");
    const termination = path.join(fixture.work, "termination-sigterm");
    const uploader = await spawnUploader(uploaderEnv("cvi/stopped", { TMPDIR: tmp, TERMINATION_MESSAGE_PATH: termination }));
    try {
      const upload = curl(uploader.uploadUrl, ["-T", fixture.xz.file, "--limit-rate", "200K"]).catch((err: Error) => err);
      await uploader.waitForLog(/upload started/);
      await spoolStarted(tmp);
      const stopping = Date.now();
      assert.equal(await uploader.kill("SIGTERM"), 1);
      assert.ok(Date.now() - stopping < 5000, `stopped in ${Date.now() - stopping} ms`);
      await upload;
      assert.deepEqual(readdirSync(tmp), []);
      assert.equal(await manifestStatus(fixture.registry.url, "cvi/stopped"), 404);
      assert.match(JSON.parse(readFileSync(termination, "utf8"))["error-message"], /stopped \(SIGTERM\)/);
    } finally {
      await uploader.kill("SIGKILL");
    }
  });
});

describe("dvcr uploader against a registry with auth", () => {
  let secured: TestServer;
  let fx: AuthFixture;
  before(async () => {
    fx = createAuthFixture();
    secured = await startTestServer({ auth: fx.auth });
  });
  after(async () => {
    await secured.dispose();
  });

  function dockerConfig(name: string, password: string): string {
    const file = path.join(fixture.work, `${name}.dockerconfigjson`);
    const auth = Buffer.from(`${fx.admin.username}:${password}`).toString("base64");
    writeFileSync(file, JSON.stringify({ auths: { [host(secured)]: { auth } } }));
    return file;
  }

  function securedEnv(repository: string, authConfig: string): Record<string, string> {
    return { UPLOADER_DESTINATION_ENDPOINT: `${host(secured)}/${repository}:latest`, DESTINATION_INSECURE_TLS: "true", UPLOADER_DESTINATION_AUTH_CONFIG: authConfig };
  }

  test("the destination refuses the credentials: 502 with the registry's reason, and the uploader keeps waiting", async () => {
    const uploader: UploaderProcess = await spawnUploader(securedEnv("cvi/refused", dockerConfig("wrong", "not-the-password")));
    try {
      const answer = await curl(uploader.uploadUrl, ["-T", fixture.qcow2.file]);
      assert.equal(answer.status, 502, answer.body);
      assert.match(JSON.parse(answer.body).message, /destination registry/);
      assert.equal((await curl(uploader.uploadUrl)).status, 200);
      assert.equal(await uploader.kill("SIGTERM"), 1);
    } finally {
      await uploader.kill("SIGKILL");
    }
  });

  test("an unreadable auth config: at the start, exit 1 with the reason in the termination report; gone by the time of an upload, that upload fails (the body untouched) and the next succeeds", async () => {
    const termination = path.join(fixture.work, "termination-auth");
    const missing = spawnUploader({ ...securedEnv("cvi/no-config", path.join(fixture.work, "missing.json")), TERMINATION_MESSAGE_PATH: termination });
    await assert.rejects(missing, /cannot read the docker config/);
    assert.match(JSON.parse(readFileSync(termination, "utf8"))["error-message"], /cannot read the docker config .*missing\.json/);

    const config = dockerConfig("rotated", fx.admin.password);
    const uploader = await spawnUploader(securedEnv("cvi/rotated", config));
    try {
      const saved = readFileSync(config);
      rmSync(config);
      const answer = await curl(uploader.uploadUrl, ["-T", fixture.qcow2.file]);
      assert.equal(answer.status, 400, answer.body);
      assert.match(JSON.parse(answer.body).message, /cannot read the docker config/);
      writeFileSync(config, saved);
      const again = await curl(uploader.uploadUrl, ["-T", fixture.qcow2.file]);
      assert.equal(again.status, 200, again.body);
      assert.equal(await uploader.exited, 0, uploader.stderr());
    } finally {
      await uploader.kill("SIGKILL");
    }
  });

  test("UPLOADER_DESTINATION_AUTH_CONFIG with the right credentials: pushed", async () => {
    const uploader = await spawnUploader(securedEnv("cvi/authorized", dockerConfig("right", fx.admin.password)));
    try {
      const answer = await curl(uploader.uploadUrl, ["-T", fixture.qcow2.file]);
      assert.equal(answer.status, 200, answer.body);
      assert.equal(await uploader.exited, 0, uploader.stderr());
      const res = await fetch(`${secured.url}/v2/cvi/authorized/manifests/latest`, {
        method: "HEAD",
        headers: { authorization: `Basic ${Buffer.from(`${fx.admin.username}:${fx.admin.password}`).toString("base64")}`, accept: "application/vnd.docker.distribution.manifest.v2+json" },
      });
      assert.equal(res.status, 200);
    } finally {
      await uploader.kill("SIGKILL");
    }
  });
});
