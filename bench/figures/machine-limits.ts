import { execFile, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expectStatus, request, type BlobFile } from "../http-client.js";
import type { CachePolicy } from "../page-cache.js";
import { megabytesPerSecond, timed } from "../timing.js";

const run = promisify(execFile);

export interface MachineLimits {
  /** `openssl dgst -sha256` of the blob (from the page cache). */
  sha256: number;
  /** Writing the blob to a new file and fsyncing it (`dd conv=fsync`). */
  fsyncWrite: number;
  /** The same through O_DIRECT (`dd oflag=direct conv=fsync`): on these VMs far faster and steadier. */
  directWrite: number;
  /** The benchmark's push client into a loopback server that discards the body. */
  loopbackHttp: number;
  /**
   * A push must hash and durably write every byte: with the two overlapped, the slower one bounds
   * it. The write is the faster of the two ways to write, so the limit is the machine's, not ours.
   */
  hashAndFsync: number;
}

/** The machine's own ceilings for the figures, measured in the same run (MB/s). */
export async function measureMachineLimits(blob: BlobFile, workDir: string, cache: CachePolicy): Promise<MachineLimits> {
  await cache.reset([blob.path]);
  const hashSeconds = await timed(() => run("openssl", ["dgst", "-sha256", blob.path]));

  const copy = path.join(workDir, "fsync-write.bin");
  await cache.reset([blob.path]);
  const writeSeconds = await timed(() => run("dd", [`if=${blob.path}`, `of=${copy}`, "bs=4M", "conv=fsync", "status=none"]));
  rmSync(copy, { force: true });
  await cache.reset([blob.path]);
  const directSeconds = await timed(() => run("dd", [`if=${blob.path}`, `of=${copy}`, "bs=4M", "oflag=direct", "conv=fsync", "status=none"]));
  rmSync(copy, { force: true });

  await cache.reset([blob.path]);
  const loopbackSeconds = await pushToSink(blob);

  return {
    sha256: megabytesPerSecond(blob.size, hashSeconds),
    fsyncWrite: megabytesPerSecond(blob.size, writeSeconds),
    directWrite: megabytesPerSecond(blob.size, directSeconds),
    loopbackHttp: megabytesPerSecond(blob.size, loopbackSeconds),
    hashAndFsync: megabytesPerSecond(blob.size, Math.max(hashSeconds, Math.min(writeSeconds, directSeconds))),
  };
}

const SINK = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../sink-server.js");

async function pushToSink(blob: BlobFile): Promise<number> {
  const child = spawn(process.execPath, [SINK], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.once("data", (d: Buffer) => resolve((JSON.parse(d.toString()) as { url: string }).url));
      child.once("exit", (code) => reject(new Error(`sink server exited with ${code}`)));
    });
    const file = { path: blob.path, start: 0, end: blob.size - 1 };
    return await timed(async () => expectStatus(await request("PUT", `${url}/discard`, { file }), 201, "PUT to the sink"));
  } finally {
    child.kill("SIGTERM");
  }
}
