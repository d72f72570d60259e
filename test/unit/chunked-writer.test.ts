import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { MEBIBYTE_BLOCKS } from "../../src/storage/block-pool.js";
import { BLOCKS_IN_FLIGHT, LimitExceededError, writeHashed } from "../../src/storage/fs/chunked-writer.js";
import { pieces } from "../helpers/pieces.js";

const BLOCK_SIZE = MEBIBYTE_BLOCKS.blockSize;

/** A FileHandle whose writes are slow, may fail, and are watched (how many run at once, are any left running). */
class WatchedFile {
  running = 0;
  maxRunning = 0;
  writes = 0;
  readonly bytes = new Map<number, Buffer>();
  constructor(private readonly failAt?: number) {}
  async write(data: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    const n = ++this.writes;
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await new Promise((r) => setTimeout(r, 2));
      if (n === this.failAt) throw Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" });
      // Half of each request: the caller must loop on short writes.
      const written = Math.max(1, Math.floor(length / 2));
      this.bytes.set(position, Buffer.from(data.subarray(offset, offset + written)));
      return { bytesWritten: written };
    } finally {
      this.running--;
    }
  }
  asHandle(): FileHandle {
    return this as unknown as FileHandle;
  }
  content(): Buffer {
    const parts = [...this.bytes].sort((a, b) => a[0] - b[0]);
    return Buffer.concat(parts.map(([, b]) => b));
  }
}

describe("writeHashed: blocks written while the next ones fill", () => {
  test("writes every byte at its position and hashes exactly those bytes, in order", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-writer-"));
    try {
      const file = path.join(dir, "upload");
      const prefix = Buffer.from("already committed bytes");
      const data = randomBytes(5 * BLOCK_SIZE + 777);
      const handle = await open(file, "w+");
      await handle.write(prefix, 0, prefix.length, 0);
      const hash = createHash("sha256");
      const { bytes } = await writeHashed(pieces(data), handle, prefix.length, hash);
      await handle.close();
      assert.equal(bytes, data.length);
      assert.deepEqual(readFileSync(file), Buffer.concat([prefix, data]));
      assert.equal(hash.digest("hex"), createHash("sha256").update(data).digest("hex"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("writes one block at a time, in order, while the next blocks are read ahead (bounded)", async () => {
    const data = randomBytes(12 * BLOCK_SIZE);
    let read = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const piece of pieces(data)) {
        read += piece.length;
        yield piece;
      }
    }
    const file = new WatchedFile();
    const leads: number[] = [];
    const positions: number[] = [];
    const write = file.write.bind(file);
    file.write = (buf, offset, length, position) => {
      leads.push(read - position);
      positions.push(position);
      return write(buf, offset, length, position);
    };
    await writeHashed(counted(), file.asHandle(), 0, createHash("sha256"));
    assert.equal(file.maxRunning, 1, "one writer at a time");
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b), "the file grows as a prefix");
    assert.ok(Math.max(...leads) > 2 * BLOCK_SIZE, "the source is read on while blocks are written");
    // Queued blocks, the one filling, and one network piece: memory does not grow with the blob.
    assert.ok(Math.max(...leads) <= (BLOCKS_IN_FLIGHT + 2) * BLOCK_SIZE + 1_048_576, `read ahead ${Math.max(...leads)} bytes`);
    assert.deepEqual(file.content(), data);
  });

  test("a failed write rejects the copy with its error, and no write outlives it", async () => {
    const file = new WatchedFile(5);
    await assert.rejects(writeHashed(pieces(randomBytes(10 * BLOCK_SIZE)), file.asHandle(), 0, createHash("sha256")), { code: "EIO" });
    assert.equal(file.running, 0, "the caller may truncate and close at once");
  });

  test("more bytes than the limit reject with LimitExceededError, and no write outlives it", async () => {
    const file = new WatchedFile();
    const limit = 6 * BLOCK_SIZE;
    await assert.rejects(
      writeHashed(pieces(randomBytes(limit + 1)), file.asHandle(), 0, createHash("sha256"), { limit }),
      (err: unknown) => err instanceof LimitExceededError && err.limit === limit,
    );
    assert.equal(file.running, 0);
  });

  test("beforeBlock refusing a block stops the copy before that block is written", async () => {
    const file = new WatchedFile();
    let asked = 0;
    const refuse = new Error("no room");
    await assert.rejects(
      writeHashed(pieces(randomBytes(8 * BLOCK_SIZE)), file.asHandle(), 0, createHash("sha256"), {
        beforeBlock: () => {
          if (++asked === 3) throw refuse;
        },
      }),
      (err: unknown) => err === refuse,
    );
    assert.equal(file.running, 0);
    assert.equal(file.content().length, 2 * BLOCK_SIZE, "only the blocks before the refusal were written");
  });
});
