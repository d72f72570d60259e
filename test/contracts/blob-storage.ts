import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { isRegistryError, parseDigest, type Digest } from "../../src/oci/index.js";
import type { BlobReader, BlobStorage } from "../../src/storage/index.js";

/** What every blob-storage driver must do (storage/blob-storage.ts): a fresh, empty backend per test. */
export interface BlobStorageFactory {
  open(): Promise<{ storage: BlobStorage; dispose(): Promise<void> }>;
}

function digestOf(data: Buffer): Digest {
  return parseDigest(`sha256:${createHash("sha256").update(data).digest("hex")}`);
}

async function* pieces(data: Buffer, size = 100_000): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** A source that sends `data`, then fails (a client gone mid-chunk). */
async function* failingAfter(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
  throw new Error("client went away");
}

/** Everything a reader hands on, copied (drivers reuse their buffers once a block is taken). */
async function drain(reader: BlobReader): Promise<Buffer> {
  const parts: Buffer[] = [];
  await reader.pipeTo(async (block) => void parts.push(Buffer.from(block)));
  return Buffer.concat(parts);
}

async function streamed(reader: BlobReader): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of reader.stream()) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

function assertCode(code: string) {
  return (err: unknown) => isRegistryError(err) && err.code === code;
}

export function blobStorageContract(backend: string, factory: BlobStorageFactory): void {
  describe(`blob storage contract: ${backend}`, () => {
    const withStorage = (name: string, fn: (storage: BlobStorage) => Promise<void>) =>
      test(name, async () => {
        const { storage, dispose } = await factory.open();
        try {
          await storage.init();
          await fn(storage);
        } finally {
          await dispose();
        }
      });

    /** Upload and commit `data` as one session; returns its digest. */
    const store = async (storage: BlobStorage, data: Buffer): Promise<Digest> => {
      const id = randomUUID();
      await storage.beginUpload(id);
      const size = await storage.appendUpload(id, 0, pieces(data));
      const digest = digestOf(data);
      assert.deepEqual(await storage.commitUpload(id, size, digest), { digest, size: data.length });
      return digest;
    };

    withStorage("an upload in chunks commits to a blob whose bytes read back whole, by range, as blocks and as a stream", async (storage) => {
      const data = randomBytes(3 * 1024 * 1024 + 123);
      const id = randomUUID();
      await storage.beginUpload(id);
      const half = 1024 * 1024 + 7;
      assert.equal(await storage.appendUpload(id, 0, pieces(data.subarray(0, half))), half);
      assert.equal(await storage.appendUpload(id, half, pieces(data.subarray(half)), { length: data.length - half }), data.length);
      assert.equal(await storage.uploadSize(id), data.length);
      const digest = digestOf(data);
      assert.deepEqual(await storage.commitUpload(id, data.length, digest), { digest, size: data.length });
      assert.equal(await storage.stat(digest), data.length);
      const whole = (await storage.read(digest, 0, data.length - 1))!;
      assert.equal(whole.length, data.length);
      assert.ok((await drain(whole)).equals(data));
      const range = (await storage.read(digest, 1000, 2_500_000))!;
      assert.equal(range.length, 2_499_001);
      assert.ok((await streamed(range)).equals(data.subarray(1000, 2_500_001)));
      const listed = [];
      for await (const blob of storage.list()) listed.push(blob);
      assert.deepEqual(listed.map((b) => [b.digest.value, b.size]), [[digest.value, data.length]]);
      assert.ok(listed[0]!.modifiedAt > Date.now() - 60_000 && listed[0]!.modifiedAt <= Date.now() + 1000);
      const redirect = await storage.redirectUrl(digest);
      if (redirect !== undefined) assert.doesNotThrow(() => new URL(redirect), "a redirect is an absolute URL");
    });

    withStorage("an empty blob", async (storage) => {
      const digest = await store(storage, Buffer.alloc(0));
      assert.equal(await storage.stat(digest), 0);
      assert.equal((await streamed((await storage.read(digest, 0, -1))!)).length, 0);
    });

    withStorage("a wrong digest is DIGEST_INVALID and no blob appears", async (storage) => {
      const data = randomBytes(5000);
      const id = randomUUID();
      await storage.beginUpload(id);
      await storage.appendUpload(id, 0, pieces(data));
      const claimed = digestOf(Buffer.from("something else"));
      await assert.rejects(storage.commitUpload(id, data.length, claimed), assertCode("DIGEST_INVALID"));
      assert.equal(await storage.stat(claimed), null);
      assert.equal(await storage.stat(digestOf(data)), null);
    });

    withStorage("a chunk cut off mid-stream, or longer or shorter than declared, leaves the session resumable at its old size", async (storage) => {
      const data = randomBytes(2 * 1024 * 1024);
      const id = randomUUID();
      await storage.beginUpload(id);
      const first = await storage.appendUpload(id, 0, pieces(data.subarray(0, 1000)));
      await assert.rejects(storage.appendUpload(id, first, failingAfter(data.subarray(1000, 1024 * 1024))), /client went away/);
      await assert.rejects(storage.appendUpload(id, first, pieces(data.subarray(1000, 3000)), { length: 1000 }), assertCode("SIZE_INVALID"));
      await assert.rejects(storage.appendUpload(id, first, pieces(data.subarray(1000, 3000)), { length: 5000 }), assertCode("SIZE_INVALID"));
      assert.equal(await storage.appendUpload(id, first, pieces(data.subarray(1000))), data.length);
      assert.deepEqual(await storage.commitUpload(id, data.length, digestOf(data)), { digest: digestOf(data), size: data.length });
      assert.ok((await drain((await storage.read(digestOf(data), 0, data.length - 1))!)).equals(data));
    });

    withStorage("aborted sessions are gone; pruning keeps exactly the sessions asked for", async (storage) => {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      for (const id of [a, b, c]) await storage.beginUpload(id);
      await storage.appendUpload(b, 0, pieces(Buffer.from("bytes")));
      await storage.abortUpload(a);
      await storage.abortUpload(a);
      assert.equal(await storage.uploadSize(a), null);
      assert.equal(await storage.pruneUploads((id) => id === b), 1);
      assert.equal(await storage.uploadSize(b), 5);
      assert.equal(await storage.uploadSize(c), null);
    });

    withStorage("delete: the blob is absent for stat, read, verify and list", async (storage) => {
      const digest = await store(storage, randomBytes(1000));
      await storage.delete(digest);
      await storage.delete(digest);
      assert.equal(await storage.stat(digest), null);
      assert.equal(await storage.read(digest, 0, 10), null);
      assert.equal(await storage.verify(digest), null);
      for await (const blob of storage.list()) assert.fail(`listed ${blob.digest.value}`);
    });

    withStorage("verify hashes the stored bytes; quarantine moves the judged object only", async (storage) => {
      const data = randomBytes(70_000);
      const digest = await store(storage, data);
      const check = (await storage.verify(digest))!;
      assert.deepEqual([check.actual.value, check.size], [digest.value, data.length]);
      // Pushed again: the object at that digest is a new one, which a stale judgement must not move.
      await store(storage, data);
      const fresh = (await storage.verify(digest))!;
      if (fresh.version !== check.version) assert.equal(await storage.quarantine(digest, check), false);
      assert.equal(await storage.stat(digest), data.length);
      assert.equal(await storage.quarantine(digest, fresh), true);
      assert.equal(await storage.stat(digest), null, "out of service");
      assert.equal(await storage.quarantine(digest, fresh), false);
    });

    withStorage("capacity and write checks", async (storage) => {
      const stats = await storage.capacity.stats();
      assert.ok(stats.capacityBytes > 0);
      assert.ok(stats.freeBytes >= 0 && stats.freeBytes <= stats.capacityBytes);
      assert.ok(stats.reserveBytes >= 0);
      storage.capacity.invalidate();
      assert.equal((await storage.capacity.stats()).capacityBytes, stats.capacityBytes);
      assert.deepEqual(await storage.checkWritable(), { ok: true });
      assert.equal(typeof storage.writePath.direct, "boolean");
    });
  });
}
