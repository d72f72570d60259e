import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { BlockPool } from "../../src/storage/block-pool.js";
import { pumpFileRange } from "../../src/storage/fs/range-pump.js";

const BLOCK = 64 * 1024;
const DEPTH = 3;

describe("pumpFileRange: overlapped reads into reused buffers", () => {
  let dir: string;
  let file: string;
  const data = randomBytes(10 * BLOCK + 4321);
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-pump-"));
    file = path.join(dir, "blob");
    writeFileSync(file, data);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function withFile<T>(fn: (handle: FileHandle) => Promise<T>): Promise<T> {
    const handle = await open(file, "r");
    try {
      return await fn(handle);
    } finally {
      await handle.close();
    }
  }

  test("delivers exactly bytes [start, end] in order, for whole files and ranges across blocks", async () => {
    const ranges: [number, number][] = [
      [0, data.length - 1],
      [0, 0],
      [BLOCK - 1, BLOCK],
      [12_345, 7 * BLOCK + 17],
      [data.length - 1, data.length - 1],
    ];
    for (const [start, end] of ranges) {
      const got: Buffer[] = [];
      // Copies: the sink's promise resolving hands the buffer back for the next read.
      await withFile((h) => pumpFileRange(h, start, end, async (b) => void got.push(Buffer.from(b)), { blocks: new BlockPool(BLOCK, 8), depth: DEPTH }));
      assert.deepEqual(Buffer.concat(got), data.subarray(start, end + 1), `${start}-${end}`);
    }
  });

  test("a buffer is not refilled until the sink let go of it; memory is depth buffers", async () => {
    const held = new Map<ArrayBufferLike, string>();
    const buffers = new Set<ArrayBufferLike>();
    let sent = 0;
    await withFile((h) =>
      pumpFileRange(
        h,
        0,
        data.length - 1,
        async (block) => {
          buffers.add(block.buffer);
          const snapshot = block.toString("base64");
          held.set(block.buffer, snapshot);
          // A slow socket: the block must stay intact while it is being sent.
          await new Promise((r) => setTimeout(r, 3));
          assert.equal(block.toString("base64"), snapshot, "block overwritten while the sink held it");
          held.delete(block.buffer);
          sent += block.length;
        },
        { blocks: new BlockPool(BLOCK, 8), depth: DEPTH },
      ),
    );
    assert.equal(sent, data.length);
    assert.ok(buffers.size <= DEPTH, `${buffers.size} buffers`);
  });

  test("a failing sink stops the transfer with its error and leaves no read running", async () => {
    const gone = new Error("client went away");
    let calls = 0;
    await withFile(async (h) => {
      await assert.rejects(
        pumpFileRange(
          h,
          0,
          data.length - 1,
          async () => {
            if (++calls === 2) throw gone;
          },
          { blocks: new BlockPool(BLOCK, 8), depth: DEPTH },
        ),
        (err: unknown) => err === gone,
      );
    });
    assert.equal(calls, 2, "no block is sent after the failure");
  });

  test("a file shorter than the range is an error, not a short transfer", async () => {
    await withFile((h) =>
      assert.rejects(
        pumpFileRange(h, 0, data.length + BLOCK, async () => undefined, { blocks: new BlockPool(BLOCK, 8), depth: DEPTH }),
        /file ended at/,
      ),
    );
  });
});
