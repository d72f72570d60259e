import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import type { GcReport } from "../../src/gc/collector.js";
import type { ScrubReport } from "../../src/gc/scrub.js";
import { TestClient } from "../helpers/client.js";
import { pushOwnImage } from "../helpers/images.js";
import { CLI, startChildServer, tempDir, type ChildServer } from "../helpers/server.js";

function dvcr(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, DVCR_LOG_LEVEL: "warn", ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function blobFile(root: string, digest: string): string {
  const [alg, hex] = digest.split(":") as [string, string];
  return path.join(root, "blobs", alg, hex.slice(0, 2), hex);
}

describe("dvcr gc and dvcr scrub (command line)", () => {
  test("--help documents the flags", () => {
    const gc = dvcr(["gc", "--help"]);
    for (const word of ["--root", "--url", "--dry-run", "--grace", "--keep-repositories", "DVCR_CREDENTIALS", "--cacert", "--insecure"]) assert.ok(gc.stdout.includes(word), word);
    const scrub = dvcr(["scrub", "--help"]);
    for (const word of ["--repository", "--repair", "Exit status 3"]) assert.ok(scrub.stdout.includes(word), word);
    const top = dvcr(["--help"]);
    assert.match(top.stdout, /dvcr gc/);
    assert.match(top.stdout, /dvcr scrub/);
  });

  test("offline on a stopped registry's root; refused while a server runs there; --url goes through the API", async () => {
    const root = tempDir();
    let server: ChildServer | undefined;
    try {
      server = await startChildServer(root);
      let client = new TestClient(server.url);
      const kept = await pushOwnImage(client, "cvi/live", "latest");
      const gone = await pushOwnImage(client, "cvi/gone", "latest");
      await pushOwnImage(client, "cvi/live"); // untagged

      // While the server owns the root, an offline GC must not touch it.
      const refused = dvcr(["gc", "--root", root]);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /another dvcr process is using the data root/);
      assert.match(refused.stderr, /--url/);

      const online = dvcr(["gc", "--url", server.url, "--dry-run", "--grace", "0"]);
      assert.equal(online.status, 0, online.stderr);
      const onlineReport = JSON.parse(online.stdout) as GcReport;
      assert.deepEqual([onlineReport.dryRun, onlineReport.manifests.deleted, onlineReport.blobs.deleted], [true, 1, 2]);
      await server.kill();

      const keepFile = path.join(root, "..", `${path.basename(root)}-keep.txt`);
      writeFileSync(keepFile, "# live owners\ncvi/live\n\n");
      // With the default grace (1h), a repository pushed a moment ago is not deleted yet.
      const dry = dvcr(["gc", "--root", root, "--dry-run", "--keep-repositories", keepFile]);
      assert.equal(dry.status, 0, dry.stderr);
      const dryReport = JSON.parse(dry.stdout) as GcReport;
      assert.deepEqual([dryReport.repositories.deleted, dryReport.repositories.keptRecentlyActive], [[], ["cvi/gone"]]);
      assert.equal(dryReport.manifests.deleted, 0);

      const swept = dvcr(["gc", "--root", root, "--grace", "0", "--keep-repositories", keepFile]);
      assert.equal(swept.status, 0, swept.stderr);
      const report = JSON.parse(swept.stdout) as GcReport;
      assert.deepEqual(report.repositories.deleted, ["cvi/gone"]);
      assert.equal(report.manifests.deleted, 1, "the untagged manifest of cvi/live");
      assert.equal(report.blobs.deleted, 4);
      assert.ok(report.durationSeconds >= 0 && report.freedBytes > 0);

      writeFileSync(keepFile, "cvi/live\nNot A Name\n");
      const badList = dvcr(["gc", "--root", root, "--keep-repositories", keepFile]);
      assert.equal(badList.status, 1);
      assert.match(badList.stderr, /keep\.txt:2: "Not A Name" is not a repository name/);
      rmSync(keepFile);

      server = await startChildServer(root);
      client = new TestClient(server.url);
      assert.equal((await client.fetch("/v2/cvi/live/manifests/latest")).status, 200);
      assert.equal((await client.fetch("/v2/cvi/gone/manifests/latest")).status, 404);
      assert.equal((await client.fetch(`/v2/cvi/gone/blobs/${gone.blobs[1]!.digest}`, { method: "HEAD" })).status, 404);
      await server.kill();

      // Scrub offline: clean (exit 0), then a rotten byte (exit 3), repaired with --repair.
      const clean = dvcr(["scrub", "--root", root]);
      assert.equal(clean.status, 0, clean.stderr);
      assert.equal((JSON.parse(clean.stdout) as ScrubReport).checked, 2);
      const file = blobFile(root, kept.blobs[1]!.digest);
      const fd = openSync(file, "r+");
      writeSync(fd, Buffer.from("rot"), 0, 3, 10);
      closeSync(fd);
      const damaged = dvcr(["scrub", "--root", root, "--repository", "cvi/live"]);
      assert.equal(damaged.status, 3);
      assert.deepEqual((JSON.parse(damaged.stdout) as ScrubReport).corrupt, [kept.blobs[1]!.digest]);
      const repaired = dvcr(["scrub", "--root", root, "--repair"]);
      assert.equal(repaired.status, 3, "damage was found (and repaired)");
      assert.deepEqual((JSON.parse(repaired.stdout) as ScrubReport).quarantined, [kept.blobs[1]!.digest]);
      assert.equal(dvcr(["scrub", "--root", root]).status, 0, "after repair, what is left is sound");
    } finally {
      await server?.kill();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("flags are checked", () => {
    assert.match(dvcr(["gc", "--grace", "soon", "--root", tempDir()]).stderr, /--grace: invalid duration "soon"/);
    assert.match(dvcr(["gc", "--root", "/a", "--url", "http://127.0.0.1:1"]).stderr, /not both/);
    assert.match(dvcr(["scrub", "--repository", "UPPER", "--root", tempDir()]).stderr, /--repository: "UPPER" is not a repository name/);
  });
});
