import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { AlignedBlockPool, DIRECT_ALIGNMENT } from "../../src/storage/fs/aligned-blocks.js";
import { BLOCKS_IN_FLIGHT, writeHashed, type DirectTarget } from "../../src/storage/fs/chunked-writer.js";
import { pieces } from "../helpers/pieces.js";

const BLOCK = 1024 * 1024;

interface Write {
  position: number;
  length: number;
}

type WriteAt = (buffer: Buffer, offset: number, length: number, position: number) => Promise<unknown>;

/** A real file handle whose `write` goes through `wrap` (given the real one); all else as is. */
function withWrite(handle: FileHandle, wrap: (write: WriteAt) => WriteAt): FileHandle {
  const write = wrap((buffer, offset, length, position) => handle.write(buffer, offset, length, position));
  return new Proxy(handle, {
    get(target, prop, receiver) {
      if (prop === "write") return write;
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * A real file handle whose writes are recorded (where, how long) before the kernel takes them;
 * write number `failAt` fails with `failWith` instead (EINVAL: a refused direct write).
 */
function recorded(handle: FileHandle, writes: Write[], { failAt = 0, failWith = "EINVAL" } = {}): FileHandle {
  let count = 0;
  return withWrite(handle, (write) => async (buffer, offset, length, position) => {
    if (++count === failAt) throw Object.assign(new Error(`${failWith}: write failed`), { code: failWith });
    writes.push({ position, length });
    return write(buffer, offset, length, position);
  });
}

async function withFile<T>(fn: (file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-direct-"));
  try {
    return await fn(path.join(dir, "upload"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("AlignedBlockPool", () => {
  test("hands out page-aligned arena blocks, then heap blocks once the arena is in use", () => {
    const pool = new AlignedBlockPool(BLOCK, 3);
    const arena = [pool.take(), pool.take(), pool.take()];
    for (const block of arena) {
      assert.equal(block.length, BLOCK);
      assert.ok(pool.isAligned(block));
    }
    assert.equal(new Set(arena.map((b) => b.byteOffset)).size, 3, "three distinct blocks");
    const heap = pool.take();
    assert.equal(heap.length, BLOCK);
    assert.equal(pool.isAligned(heap), false);
    pool.give(arena[1]!);
    pool.give(arena[1]!);
    assert.equal(pool.freeArenaBlocks, 1, "a block given twice is kept once");
    assert.equal(pool.take().byteOffset, arena[1]!.byteOffset, "the block freed last is reused first");
    assert.equal(pool.isAligned(arena[0]!.subarray(100)), false, "a slice off the alignment is not");
  });

  test("its blocks are accepted by an O_DIRECT write (the kernel checks the alignment)", async () => {
    const pool = new AlignedBlockPool(BLOCK, 2);
    await withFile(async (file) => {
      let handle: FileHandle;
      try {
        handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT);
      } catch (err) {
        // tmpfs before Linux 6.6 refuses O_DIRECT at open: nothing to check there.
        assert.equal((err as NodeJS.ErrnoException).code, "EINVAL");
        return;
      }
      try {
        const block = pool.take();
        block.fill(7);
        const { bytesWritten } = await handle.write(block, 0, BLOCK, 0);
        assert.equal(bytesWritten, BLOCK);
      } finally {
        await handle.close();
      }
      assert.deepEqual(readFileSync(file), Buffer.alloc(BLOCK, 7));
    });
  });

  test("under an address-space limit (ulimit -v) the arena cannot be reserved: heap blocks, buffered writes, same bytes", () => {
    const storage = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/storage/fs");
    const script = `
      import { createHash, randomBytes } from "node:crypto";
      import { open, readFile, rm } from "node:fs/promises";
      import { constants } from "node:fs";
      const { UPLOAD_BLOCKS } = await import(${JSON.stringify(path.join(storage, "aligned-blocks.js"))});
      const { writeHashed } = await import(${JSON.stringify(path.join(storage, "chunked-writer.js"))});
      const file = ${JSON.stringify(path.join(os.tmpdir(), `dvcr-ulimit-${process.pid}`))};
      const data = randomBytes(3 * 1024 * 1024 + 5);
      const handle = await open(file, "w+");
      const direct = await open(file, constants.O_WRONLY | constants.O_DIRECT);
      const hash = createHash("sha256");
      await writeHashed([data], handle, 0, hash, { direct: { file: direct, onRefused() { throw new Error("refused"); } } });
      await direct.close(); await handle.close();
      const same = (await readFile(file)).equals(data);
      await rm(file);
      console.log(JSON.stringify({ aligned: UPLOAD_BLOCKS.isAligned(UPLOAD_BLOCKS.take()), same }));`;
    const out = execFileSync("bash", ["-c", 'ulimit -v 4000000 && exec "$0" --input-type=module -e "$1"', process.execPath, script], { encoding: "utf8" });
    assert.deepEqual(JSON.parse(out.trim()), { aligned: false, same: true });
  });
});

describe("writeHashed with O_DIRECT", () => {
  for (const start of [0, 123, DIRECT_ALIGNMENT, BLOCK + 5]) {
    test(`from offset ${start}: aligned blocks go direct, the unaligned start and the tail through the page cache`, async () => {
      const pool = new AlignedBlockPool(BLOCK, 8);
      await withFile(async (file) => {
        const prefix = randomBytes(start);
        const data = randomBytes(5 * BLOCK + 777);
        const buffered = await open(file, "w+");
        await buffered.write(prefix, 0, prefix.length, 0);
        const directHandle = await open(file, constants.O_WRONLY | constants.O_DIRECT);
        const bufferedWrites: Write[] = [];
        const directWrites: Write[] = [];
        let refused = 0;
        const direct: DirectTarget = { file: recorded(directHandle, directWrites), onRefused: () => refused++ };
        const hash = createHash("sha256");
        try {
          const { bytes } = await writeHashed(pieces(data), recorded(buffered, bufferedWrites), start, hash, { blocks: pool, direct });
          assert.equal(bytes, data.length);
        } finally {
          await directHandle.close();
          await buffered.close();
        }
        assert.deepEqual(readFileSync(file), Buffer.concat([prefix, data]));
        assert.equal(hash.digest("hex"), createHash("sha256").update(data).digest("hex"));
        assert.equal(refused, 0);
        for (const w of directWrites) {
          assert.equal(w.position % DIRECT_ALIGNMENT, 0, `direct write at ${w.position}`);
          assert.equal(w.length % DIRECT_ALIGNMENT, 0, `direct write of ${w.length} bytes`);
        }
        const directBytes = directWrites.reduce((n, w) => n + w.length, 0);
        const bufferedBytes = bufferedWrites.reduce((n, w) => n + w.length, 0);
        assert.equal(directBytes + bufferedBytes, data.length, "every byte written once");
        // At most the unaligned head and the sub-page tail go through the page cache.
        assert.ok(bufferedBytes < BLOCK + DIRECT_ALIGNMENT, `${bufferedBytes} buffered bytes`);
        assert.equal(pool.freeArenaBlocks, 8, "every block is back in the arena");
      });
    });
  }

  test("direct writes run side by side (at most BLOCKS_IN_FLIGHT), buffered ones one at a time", async () => {
    const pool = new AlignedBlockPool(BLOCK, 8);
    await withFile(async (file) => {
      const data = randomBytes(12 * BLOCK + 100);
      const buffered = await open(file, "w+");
      const directHandle = await open(file, constants.O_WRONLY | constants.O_DIRECT);
      const running = { direct: 0, buffered: 0, maxDirect: 0, maxBuffered: 0 };
      // Slow writes (as on a remote volume), counted while they run.
      const slowed = (handle: FileHandle, kind: "direct" | "buffered"): FileHandle =>
        withWrite(handle, (write) => async (...args) => {
          running[kind]++;
          const max = kind === "direct" ? "maxDirect" : "maxBuffered";
          running[max] = Math.max(running[max], running[kind]);
          try {
            await new Promise((r) => setTimeout(r, 3));
            return await write(...args);
          } finally {
            running[kind]--;
          }
        });
      try {
        // Start mid-page: the first block and the tail are buffered, the rest direct.
        await buffered.write(Buffer.alloc(10), 0, 10, 0);
        await writeHashed(pieces(data), slowed(buffered, "buffered"), 10, createHash("sha256"), {
          blocks: pool,
          direct: { file: slowed(directHandle, "direct"), onRefused: () => undefined },
        });
      } finally {
        await directHandle.close();
        await buffered.close();
      }
      assert.deepEqual(readFileSync(file).subarray(10), data);
      assert.ok(running.maxDirect > 1, `direct writes overlapped (${running.maxDirect} at once)`);
      assert.ok(running.maxDirect <= BLOCKS_IN_FLIGHT);
      assert.equal(running.maxBuffered, 1);
    });
  });

  test("a refused direct write is redone through the page cache, and the rest follows it there", async () => {
    const pool = new AlignedBlockPool(BLOCK, 8);
    await withFile(async (file) => {
      const data = randomBytes(4 * BLOCK);
      const buffered = await open(file, "w+");
      const directHandle = await open(file, constants.O_WRONLY);
      const directWrites: Write[] = [];
      const refusals: unknown[] = [];
      const direct: DirectTarget = { file: recorded(directHandle, directWrites, { failAt: 1 }), onRefused: (err) => refusals.push(err) };
      try {
        await writeHashed(pieces(data), buffered, 0, createHash("sha256"), { blocks: pool, direct });
      } finally {
        await directHandle.close();
        await buffered.close();
      }
      assert.deepEqual(readFileSync(file), data);
      assert.equal(refusals.length, 1);
      assert.equal(directWrites.length, 0, "no direct write after the refusal");
    });
  });

  test("heap blocks (the arena in use by other uploads) are written through the page cache", async () => {
    const pool = new AlignedBlockPool(BLOCK, 1);
    const held = pool.take();
    await withFile(async (file) => {
      const data = randomBytes(3 * BLOCK);
      const buffered = await open(file, "w+");
      const directHandle = await open(file, constants.O_WRONLY | constants.O_DIRECT);
      const directWrites: Write[] = [];
      try {
        await writeHashed(pieces(data), buffered, 0, createHash("sha256"), { blocks: pool, direct: { file: recorded(directHandle, directWrites), onRefused: () => undefined } });
      } finally {
        await directHandle.close();
        await buffered.close();
      }
      assert.deepEqual(readFileSync(file), data);
      assert.equal(directWrites.length, 0);
    });
    pool.give(held);
  });

  test("a failed write gives every arena block back (none is lost to later uploads)", async () => {
    const pool = new AlignedBlockPool(BLOCK, 8);
    await withFile(async (file) => {
      const handle = await open(file, "w+");
      const failing = recorded(handle, [], { failAt: 3, failWith: "EIO" });
      try {
        await assert.rejects(writeHashed(pieces(randomBytes(10 * BLOCK)), failing, 0, createHash("sha256"), { blocks: pool }), { code: "EIO" });
      } finally {
        await handle.close();
      }
    });
    assert.equal(pool.freeArenaBlocks, 8);
  });
});
