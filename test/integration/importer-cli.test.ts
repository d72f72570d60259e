import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { startFileServer } from "../helpers/file-server.js";
import { expectedLabels, manifestStatus, publishDisk, pullImage, type PublishedDisk } from "../helpers/importer.js";
import { CLI, startTestServer, tempDir, type TestServer } from "../helpers/server.js";

const MiB = 1024 * 1024;

let registry: TestServer;
let work: string;
let disk: PublishedDisk;

before(async () => {
  registry = await startTestServer();
  work = tempDir("dvcr-import-cli-");
  disk = await publishDisk(path.join(work, "disks"), "qcow2", 4 * MiB, "xz");
});
after(async () => {
  await registry.dispose();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `dvcr import` with `env` (on top of a clean environment); `whileRunning` sees stderr as it comes. */
function runImport(args: string[], env: Record<string, string>, whileRunning?: (stderr: () => string) => Promise<void>): Promise<Run & { during?: unknown }> {
  const child = spawn(process.execPath, [CLI, "import", ...args], { env: { PATH: process.env.PATH!, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const watching = whileRunning?.(() => stderr);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", async (code) => {
      try {
        await watching;
        resolve({ code, stdout, stderr });
      } catch (err) {
        reject(err);
      }
    });
  });
}

function host(): string {
  return new URL(registry.url).host;
}

describe("dvcr import with DVCR's importer environment", () => {
  test("IMPORTER_* env: import, gauges {ownerUID} on the metrics port while it runs, the termination message, exit 0", async () => {
    const server = await startFileServer(path.dirname(disk.file), { bytesPerSecond: 2 * MiB });
    const termination = path.join(work, "termination-ok");
    const scraped: string[] = [];
    try {
      const run = await runImport(
        [],
        {
          IMPORTER_SOURCE: "http",
          IMPORTER_ENDPOINT: server.url(disk.fileName),
          IMPORTER_DESTINATION_ENDPOINT: `${host()}/cvi/from-env:latest`,
          DESTINATION_INSECURE_TLS: "true",
          IMPORTER_CHECKSUMS: `md5:${disk.md5},sha256:${disk.sha256}`,
          OWNER_UID: "0b6e5a1c-uid",
          IMPORTER_METRICS_LISTEN: "127.0.0.1:0",
          TERMINATION_MESSAGE_PATH: termination,
        },
        async (stderr) => {
          let url: string | undefined;
          for (let i = 0; i < 200 && !url; i++) {
            url = /importer metrics on (http:\/\/\S+)/.exec(stderr())?.[1];
            if (!url) await new Promise((r) => setTimeout(r, 25));
          }
          assert.ok(url, "the metrics address is announced");
          for (let i = 0; i < 100; i++) {
            const text = await fetch(url).then((r) => r.text()).catch(() => "");
            if (/registry_progress\{ownerUID="0b6e5a1c-uid"\} [1-9]/.test(text)) {
              scraped.push(text);
              break;
            }
            await new Promise((r) => setTimeout(r, 50));
          }
        },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(scraped.length, 1, "progress was scraped mid-import");
      assert.match(scraped[0]!, /registry_current_speed\{ownerUID="0b6e5a1c-uid"\} \d+/);
      assert.match(scraped[0]!, /registry_average_speed\{ownerUID="0b6e5a1c-uid"\} \d+/);
      const report = JSON.parse(readFileSync(termination, "utf8"));
      assert.equal(report["source-image-size"], disk.disk.size);
      assert.equal(report["source-image-format"], "qcow2");
      assert.equal(String(report["source-image-virtual-size"]), (await expectedLabels(disk.disk))["source-image-virtual-size"]);
      assert.ok(report.duration > 0 && report["average-speed"] > 0);
      assert.equal(report["error-message"], undefined);
      const pulled = await pullImage(registry.url, "cvi/from-env");
      assert.equal(pulled.disk.digest, disk.disk.digest);
    } finally {
      await server.close();
    }
  });

  test("a failure: error-message in the termination message, non-zero exit, nothing tagged", async () => {
    const server = await startFileServer(path.dirname(disk.file));
    const termination = path.join(work, "termination-fail");
    try {
      const run = await runImport([], {
        IMPORTER_SOURCE: "http",
        IMPORTER_ENDPOINT: server.url("missing.qcow2"),
        IMPORTER_DESTINATION_ENDPOINT: `${host()}/cvi/env-fail:latest`,
        DESTINATION_INSECURE_TLS: "true",
        IMPORTER_METRICS_LISTEN: "off",
        TERMINATION_MESSAGE_PATH: termination,
      });
      assert.equal(run.code, 1);
      const report = JSON.parse(readFileSync(termination, "utf8"));
      assert.match(report["error-message"], /404/);
      assert.equal(report["error-kind"], "not-found");
      assert.equal(await manifestStatus(registry.url, "cvi/env-fail"), 404);
    } finally {
      await server.close();
    }
  });

  test("an unknown IMPORTER_SOURCE or checksum algorithm is refused with a clear message", async () => {
    const run = await runImport([], { IMPORTER_SOURCE: "blockDevice", IMPORTER_ENDPOINT: "/dev/sdz", IMPORTER_DESTINATION_ENDPOINT: `${host()}/cvi/x:latest`, IMPORTER_METRICS_LISTEN: "off" });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /IMPORTER_SOURCE "blockDevice" is not supported/);
    const sums = await runImport([], { IMPORTER_SOURCE: "filesystem", IMPORTER_ENDPOINT: disk.file, IMPORTER_CHECKSUMS: "streebog512:00", IMPORTER_DESTINATION_ENDPOINT: `${host()}/cvi/x:latest`, IMPORTER_METRICS_LISTEN: "off" });
    assert.equal(sums.code, 1);
    assert.match(sums.stderr, /unsupported checksum algorithm "streebog512"/);
  });
});

describe("dvcr import SOURCE --to", () => {
  test("a file with --progress json: progress lines, then the result; the image pulls back", async () => {
    const run = await runImport([disk.file, "--to", `http://${host()}/vi/ns/from-cli:v1`, "--checksum", `sha256:${disk.sha256}`, "--progress", "json"], {});
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const last = lines.at(-1);
    assert.equal(last.event, "done");
    assert.equal(last.sourceImageFormat, "qcow2");
    assert.ok(lines.slice(0, -1).every((l) => l.event === "progress" && typeof l.bytes === "number"));
    assert.equal(lines.at(-2).percent, 100);
    const pulled = await pullImage(registry.url, "vi/ns/from-cli", "v1");
    assert.equal(pulled.disk.digest, disk.disk.digest);
    assert.equal(pulled.manifest.digest, last.manifestDigest);
  });

  test("bad usage exits non-zero with the reason", async () => {
    const run = await runImport([disk.file], {});
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /--to is required/);
  });
});
