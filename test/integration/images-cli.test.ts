import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import BetterSqlite3 from "better-sqlite3";
import { TestClient } from "../helpers/client.js";
import { convert, diskLayer, makeIso, makeRaw, sha256sum } from "../helpers/disk-images.js";
import { pushDiskImage, waitForImage } from "../helpers/disk-push.js";
import { CLI, startChildServer, tempDir, type ChildServer } from "../helpers/server.js";

const run = promisify(execFile);

function dvcr(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, ...args], { encoding: "utf8" });
}

describe("dvcr inspect and dvcr reindex", () => {
  let dir: string;
  let root: string;
  let server: ChildServer | undefined;
  let qcow2: string;
  let digest: string;

  before(async () => {
    dir = tempDir("dvcr-cli-images-");
    root = path.join(dir, "root");
    qcow2 = convert(makeRaw(dir, "src.raw", "32M"), path.join(dir, "ubuntu.qcow2"), "qcow2");
    server = await startChildServer(root);
    const client = new TestClient(server.url);
    digest = (await pushDiskImage(client, "cvi/ubuntu", "latest", await diskLayer(qcow2))).manifestDigest;
    await pushDiskImage(client, "vi/ns/cd", "v1", await diskLayer(makeIso(dir, "cd.iso")));
    await waitForImage(client, "cvi/ubuntu");
    await waitForImage(client, "vi/ns/cd", "?tag=v1");
  });
  after(async () => {
    await server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  test("--url: a table for people, --json for scripts (the API's entry)", async () => {
    const { stdout } = await dvcr("inspect", "cvi/ubuntu", "--url", server!.url);
    assert.match(stdout, /^Repository\s+cvi\/ubuntu$/m);
    assert.match(stdout, /^Owner\s+ClusterVirtualImage ubuntu$/m);
    assert.match(stdout, /^Format\s+qcow2$/m);
    assert.match(stdout, /^Virtual size\s+32\.0 MiB \(33554432 bytes\)$/m);
    assert.match(stdout, new RegExp(`^SHA-256\\s+${sha256sum(qcow2)}$`, "m"));
    assert.match(stdout, /^CD-ROM\s+no$/m);
    const json = JSON.parse((await dvcr("inspect", "vi/ns/cd:v1", "--url", server!.url, "--json")).stdout) as Record<string, unknown>;
    const api = await (await fetch(`${server!.url}/api/v1/images/vi/ns/cd?tag=v1`)).json();
    assert.deepEqual(json, api);
    assert.equal(json.cdrom, true);
    const byDigest = JSON.parse((await dvcr("inspect", `cvi/ubuntu@${digest}`, "--url", server!.url, "--json")).stdout) as Record<string, unknown>;
    assert.equal(byDigest.digest, digest);
  });

  test("unknown images and bad references fail with a message", async () => {
    await assert.rejects(dvcr("inspect", "cvi/nope", "--url", server!.url), /answered 404 to GET \/api\/v1\/images\/cvi\/nope: NAME_UNKNOWN/);
    await assert.rejects(dvcr("inspect", "Not A Name", "--url", server!.url), /is not <repository>\[:tag\|@digest\]/);
    await assert.rejects(dvcr("inspect", "--url", server!.url), /give one image/);
  });

  test("a running server's root is refused (use --url); once stopped, --root reads and reindex rebuilds", async () => {
    await assert.rejects(dvcr("reindex", "--root", root), /another dvcr process is using the data root/);
    await server!.kill();
    server = undefined;
    const before = JSON.parse((await dvcr("inspect", "cvi/ubuntu", "--root", root, "--json")).stdout) as Record<string, unknown>;
    assert.equal(before.format, "qcow2");

    const db = new BetterSqlite3(path.join(root, "meta.db"));
    db.exec("DELETE FROM disk_images");
    db.close();
    const gone = JSON.parse((await dvcr("inspect", "cvi/ubuntu", "--root", root, "--json")).stdout) as Record<string, unknown>;
    assert.equal(gone.status, "indexing");

    const summary = JSON.parse((await dvcr("reindex", "--root", root)).stdout) as { manifests: number; images: { kind: string; format: string; count: number }[] };
    assert.equal(summary.manifests, 2);
    assert.deepEqual(
      summary.images.sort((a, b) => a.kind.localeCompare(b.kind)),
      [
        { kind: "ClusterVirtualImage", format: "qcow2", count: 1 },
        { kind: "VirtualImage", format: "iso", count: 1 },
      ],
    );
    const after = JSON.parse((await dvcr("inspect", "cvi/ubuntu", "--root", root, "--json")).stdout) as Record<string, unknown>;
    assert.deepEqual({ ...after, indexedAt: null }, { ...before, indexedAt: null });
  });
});
