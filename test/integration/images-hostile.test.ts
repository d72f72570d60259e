import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { TestClient } from "../helpers/client.js";
import { endlessZeroGzip, qemuImg, tarHeader, tarLayer } from "../helpers/disk-images.js";
import { pushDiskImage, waitForImage } from "../helpers/disk-push.js";
import { peakRssBytes } from "../helpers/proc.js";
import { startChildServer, tempDir, type ChildServer } from "../helpers/server.js";

const MiB = 1024 * 1024;

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** A tar made of raw headers: `count` empty files, then what follows. Fast for huge counts. */
function manyEntries(count: number, then: Buffer): Buffer {
  const headers = Array.from({ length: count }, (_, i) => tarHeader(`bomb/${i}`, 0));
  return Buffer.concat([...headers, then]);
}

/**
 * Hostile layers pushed over HTTP to a `dvcr serve` child process: every push is stored (the
 * spec allows any blob), every image is judged with a reason, and the server's peak memory
 * stays flat while it judges them.
 */
describe("hostile disk layers over HTTP", () => {
  let root: string;
  let server: ChildServer;
  let client: TestClient;
  let qcow2: string;
  before(async () => {
    root = tempDir("dvcr-hostile-");
    server = await startChildServer(root);
    client = new TestClient(server.url);
    qcow2 = path.join(root, "..", `${path.basename(root)}-d.qcow2`);
    qemuImg("create", "-q", "-f", "qcow2", qcow2, "2G");
  });
  after(async () => {
    await server.kill();
    rmSync(root, { recursive: true, force: true });
    rmSync(qcow2, { force: true });
  });

  /** `format`: what the header pass found and still stands (default: not a usable disk, null). */
  const cases: { name: string; layer: () => Promise<Buffer>; gzip?: boolean; reason: RegExp; format?: string; virtualSize?: number }[] = [
    {
      name: "tar bomb (12 000 entries before the disk)",
      layer: async () => manyEntries(12_000, await tarLayer([{ name: "disk/d.qcow2", file: qcow2 }])),
      reason: /more than 10000 tar entries/,
    },
    {
      name: "path traversal disk/../../etc/x",
      layer: () => tarLayer([{ name: "disk/../../etc/x", data: Buffer.from("x") }, { name: "disk/d.qcow2", file: qcow2 }]),
      reason: /unsafe path in layer/,
    },
    {
      name: "truncated tar",
      layer: async () => {
        const full = await tarLayer([{ name: "disk/big.img", data: Buffer.alloc(4 * MiB, 7) }]);
        return full.subarray(0, 3 * MiB);
      },
      reason: /truncated/,
    },
    {
      name: "gzip that never ends (256 MiB of zeros from ~256 KiB, no end marker)",
      layer: () => collect(endlessZeroGzip(tarHeader("disk/zero.img", 1024 ** 4), 256)),
      gzip: true,
      // Zeros are also what an almost empty raw disk is: the header facts stand, the checksums
      // are given up, and the reason says so.
      reason: /^checksums not computed: gzip layer expands more than 100x/,
      format: "raw",
      virtualSize: 1024 ** 4,
    },
    {
      name: "qcow2 header with absurd sizes",
      layer: () => {
        // A real qcow2 whose header claims 1 PiB: its L1 table cannot map that much.
        const image = readFileSync(qcow2);
        image.writeBigUInt64BE(1n << 50n, 24);
        return tarLayer([{ name: "disk/evil.qcow2", data: image }]);
      },
      reason: /invalid qcow2 header: L1 table of \d+ entries cannot map a virtual size of 1125899906842624 bytes/,
    },
    {
      name: "two disk files",
      layer: () => tarLayer([{ name: "disk", type: "directory" }, { name: "disk/a.qcow2", file: qcow2 }, { name: "disk/b.qcow2", file: qcow2 }]),
      reason: /more than one disk file: disk\/a.qcow2, disk\/b.qcow2/,
    },
    {
      name: "disk file as a symlink",
      layer: () => tarLayer([{ name: "disk/d.qcow2", type: "symlink", linkname: "/etc/shadow" }]),
      reason: /disk\/d.qcow2 is a symlink/,
    },
  ];

  for (const [i, c] of cases.entries()) {
    test(`${c.name}: the push succeeds, the index says ${c.format ? "what it found and why no checksums" : "format null and why"}`, async () => {
      const repository = `cvi/hostile-${i}`;
      const pushed = await pushDiskImage(client, repository, "latest", await c.layer(), { gzip: c.gzip });
      assert.equal(pushed.response.status, 201);
      // The registry stores what the spec allows: the image is pullable as pushed.
      const pulled = await client.fetch(`/v2/${repository}/blobs/${pushed.layerDigest}`, { method: "HEAD" });
      assert.equal(pulled.status, 200);
      const entry = await waitForImage(client, repository);
      assert.equal(entry.format, c.format ?? null);
      assert.equal(entry.virtualSize, c.virtualSize ?? null);
      assert.match(entry.reason ?? "", c.reason);
      assert.equal(entry.sha256, null);
      assert.equal((await client.fetch("/v2/")).status, 200);
    });
  }

  test("the server's peak memory stayed flat through all of it", () => {
    const peak = peakRssBytes(server.pid);
    process.stdout.write(`# server VmHWM after hostile layers: ${(peak / MiB).toFixed(1)} MiB\n`);
    assert.ok(peak < 200 * MiB, `peak RSS ${peak / MiB} MiB`);
  });
});
