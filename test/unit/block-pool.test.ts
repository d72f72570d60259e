import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { BlockPool } from "../../src/storage/block-pool.js";
import { BLOCKS_IN_FLIGHT, writeHashed } from "../../src/storage/fs/chunked-writer.js";
import { pumpFileRange } from "../../src/storage/fs/range-pump.js";

const BLOCK = 64 * 1024;

/** Counts the blocks it had to allocate (none idle). */
class CountingPool extends BlockPool {
  allocated = 0;
  override take(): Buffer {
    if (this.idleBlocks === 0) this.allocated++;
    return super.take();
  }
}

async function* pieces(data: Buffer): AsyncGenerator<Buffer> {
  for (let off = 0; off < data.length; off += 10_000) yield data.subarray(off, off + 10_000);
}

describe("BlockPool: buffers reused across requests", () => {
  test("hands back what it was given, keeps at most maxIdle, refuses wrong sizes and double gives", () => {
    const pool = new BlockPool(BLOCK, 2);
    const a = pool.take();
    assert.equal(a.length, BLOCK);
    pool.give(a);
    pool.give(a);
    assert.equal(pool.idleBlocks, 1, "a block given twice is kept once");
    assert.equal(pool.take(), a);
    pool.give(Buffer.alloc(BLOCK - 1));
    assert.equal(pool.idleBlocks, 0);
    for (const b of [pool.take(), pool.take(), pool.take()]) pool.give(b);
    assert.equal(pool.idleBlocks, 2);
  });

  test("uploads one after another allocate their blocks once", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-pool-"));
    try {
      const pool = new CountingPool(BLOCK, 16);
      const data = randomBytes(20 * BLOCK + 5);
      for (let i = 0; i < 4; i++) {
        const file = await open(path.join(dir, `u${i}`), "w");
        await writeHashed(pieces(data), file, 0, createHash("sha256"), { blocks: pool });
        await file.close();
      }
      assert.ok(pool.allocated <= BLOCKS_IN_FLIGHT + 2, `${pool.allocated} blocks allocated for 4 uploads`);
      assert.ok(pool.idleBlocks > 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a finished transfer gives its read buffers back", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-pool-"));
    try {
      const file = path.join(dir, "blob");
      writeFileSync(file, randomBytes(10 * BLOCK));
      const pool = new CountingPool(BLOCK, 16);
      for (let i = 0; i < 3; i++) {
        const handle = await open(file, "r");
        await pumpFileRange(handle, 0, 10 * BLOCK - 1, async () => undefined, { blocks: pool, depth: 4 });
        await handle.close();
      }
      assert.equal(pool.allocated, 4, "three transfers share four buffers");
      assert.equal(pool.idleBlocks, 4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
