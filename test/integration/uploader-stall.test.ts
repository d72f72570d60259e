import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { diskFixture, pullImage } from "../helpers/importer.js";
import { RawConnection } from "../helpers/raw-socket.js";
import { startUploader } from "../../src/uploader/index.js";

const MiB = 1024 * 1024;
const fixture = diskFixture("dvcr-uploader-stall-", 2 * MiB);

test("an upload body that stops arriving is a stall: 408 with the reason, the slot freed, the next upload accepted", async () => {
  const { registry, qcow2 } = fixture;
  const lines: string[] = [];
  const uploader = await startUploader({
    destination: { registry: registry.url, repository: "cvi/stalled", tag: "latest" },
    listenPort: 0,
    healthzPort: 0,
    waitTimeoutMs: 60_000,
    tuning: { stallTimeoutMs: 400 },
    log: (line) => lines.push(line),
  });
  const base = `http://127.0.0.1:${uploader.uploadPort}`;
  const disk = readFileSync(qcow2.file);
  const stalled = await RawConnection.open(base);
  try {
    // The headers and the first 64 KiB of a body that declares all of it, then nothing.
    stalled.write(`PUT /upload HTTP/1.1\r\nHost: uploader\r\nContent-Length: ${disk.length}\r\n\r\n`);
    stalled.write(disk.subarray(0, 64 * 1024));
    const started = Date.now();
    const answer = await stalled.response(5000);
    assert.equal(answer.status, 408, answer.body);
    assert.match(JSON.parse(answer.body).message, /stalled: no byte arrived for 0.4 s/);
    assert.ok(Date.now() - started >= 300, "answered after the stall timeout, not before");
  } finally {
    stalled.destroy();
  }
  const res = await fetch(`${base}/upload`, { method: "PUT", body: disk });
  assert.equal(res.status, 200, await res.text());
  const outcome = await uploader.outcome;
  assert.equal(outcome.kind, "uploaded");
  const pulled = await pullImage(registry.url, "cvi/stalled");
  assert.equal(pulled.disk.digest, qcow2.disk.digest);
  assert.ok(lines.some((l) => /upload failed \(408 stalled\)/.test(l)), lines.join("\n"));
});
