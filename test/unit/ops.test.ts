import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { formatBytes, parseByteSize, parseDuration } from "../../src/config/units.js";
import { BlobClaims } from "../../src/registry/single-process.js";
import { isStorageFull } from "../../src/storage/capacity.js";
import { VolumeCapacity } from "../../src/storage/fs/volume-capacity.js";

describe("units: durations and byte sizes", () => {
  test("durations", () => {
    assert.equal(parseDuration("1h"), 3_600_000);
    assert.equal(parseDuration("1h30m"), 5_400_000);
    assert.equal(parseDuration("90s"), 90_000);
    assert.equal(parseDuration("7d"), 7 * 86_400_000);
    assert.equal(parseDuration("250ms"), 250);
    assert.equal(parseDuration("0"), 0);
    assert.equal(parseDuration(1500), 1500);
    for (const bad of ["", "1x", "h", "1h 30m", "-1s", "soon"]) assert.throws(() => parseDuration(bad), /invalid duration/, bad);
    assert.throws(() => parseDuration(-1), /invalid duration/);
  });

  test("byte sizes", () => {
    assert.equal(parseByteSize("256MiB"), 256 * 1024 * 1024);
    assert.equal(parseByteSize("256Mi"), 256 * 1024 * 1024);
    assert.equal(parseByteSize("1GB"), 1e9);
    assert.equal(parseByteSize("1.5 GiB"), 1.5 * 2 ** 30);
    assert.equal(parseByteSize("4096"), 4096);
    assert.equal(parseByteSize(0), 0);
    for (const bad of ["", "MiB", "10 parsecs", "-5"]) assert.throws(() => parseByteSize(bad), /invalid size/, bad);
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(3 * 1024 * 1024), "3.00 MiB");
    assert.equal(formatBytes(512 * 1024 * 1024), "512.0 MiB");
  });
});

describe("configuration of GC, scrub and the reserve", () => {
  test("defaults: GC daily at 02:00 with a 1h grace, uploads expire after 24h, reserve max(1%, 256 MiB)", () => {
    const c = loadConfig({}, {});
    assert.deepEqual(c.gc, { schedule: "0 2 * * *", grace: 3_600_000, uploadTtl: 86_400_000 });
    assert.equal(c.scrub.schedule, "0 3 * * 0");
    assert.deepEqual(c.storage.reserve, { bytes: 256 * 1024 * 1024, percent: 1 });
  });

  test("file and environment", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-cfg-"));
    const file = path.join(dir, "dvcr.yaml");
    writeFileSync(file, 'gc: {schedule: "30 1 * * *", grace: 2h, uploadTtl: 12h}\nscrub: {schedule: "off"}\nstorage: {reserve: {bytes: 1GiB, percent: 5}}\n');
    let c = loadConfig({ configFile: file }, {});
    assert.deepEqual(c.gc, { schedule: "30 1 * * *", grace: 7_200_000, uploadTtl: 43_200_000 });
    assert.equal(c.scrub.schedule, "off");
    assert.deepEqual(c.storage.reserve, { bytes: 2 ** 30, percent: 5 });
    c = loadConfig(
      { configFile: file },
      { DVCR_GC_SCHEDULE: "0 4 * * *", DVCR_GC_GRACE: "15m", DVCR_UPLOAD_TTL: "1h", DVCR_SCRUB_SCHEDULE: "0 5 * * 6", DVCR_STORAGE_RESERVE_BYTES: "64MiB", DVCR_STORAGE_RESERVE_PERCENT: "0" },
    );
    assert.deepEqual(c.gc, { schedule: "0 4 * * *", grace: 900_000, uploadTtl: 3_600_000 });
    assert.equal(c.scrub.schedule, "0 5 * * 6");
    assert.deepEqual(c.storage.reserve, { bytes: 64 * 2 ** 20, percent: 0 });
  });

  test("invalid schedules, durations and sizes are refused naming the key", () => {
    const refuses = (env: Record<string, string>, key: RegExp) =>
      assert.throws(() => loadConfig({}, env), (e: Error) => e instanceof ConfigError && key.test(e.message), JSON.stringify(env));
    refuses({ DVCR_GC_SCHEDULE: "every night" }, /gc\.schedule: invalid cron expression/);
    refuses({ DVCR_SCRUB_SCHEDULE: "61 * * * *" }, /scrub\.schedule/);
    refuses({ DVCR_GC_GRACE: "a while" }, /gc\.grace: invalid duration/);
    refuses({ DVCR_STORAGE_RESERVE_BYTES: "lots" }, /storage\.reserve\.bytes: invalid size/);
    refuses({ DVCR_STORAGE_RESERVE_PERCENT: "90" }, /storage\.reserve\.percent/);
  });
});

describe("BlobClaims: uploads committing a digest vs collectors removing it", () => {
  test("a claimed digest cannot be removed; a removal in progress makes a claim wait", async () => {
    const claims = new BlobClaims();
    const release = await claims.claim("sha256:a");
    assert.equal(claims.beginRemoval("sha256:a"), null);
    release();
    release(); // idempotent
    const finish = claims.beginRemoval("sha256:a");
    assert.ok(finish);
    assert.equal(claims.beginRemoval("sha256:a"), null, "one removal at a time");
    let claimed = false;
    const waiting = claims.claim("sha256:a").then((r) => {
      claimed = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(claimed, false);
    finish!();
    (await waiting)();
    assert.ok(claimed);
    assert.equal(claims.isClaimed("sha256:a"), false);
  });

  test("claims count: two uploads of one digest both have to release", async () => {
    const claims = new BlobClaims();
    const r1 = await claims.claim("sha256:b");
    const r2 = await claims.claim("sha256:b");
    r1();
    assert.equal(claims.beginRemoval("sha256:b"), null);
    r2();
    assert.ok(claims.beginRemoval("sha256:b"));
  });
});

describe("VolumeCapacity", () => {
  test("the reserve is the larger of its bytes and its percent of the capacity", () => {
    const capacity = new VolumeCapacity(os.tmpdir(), { bytes: 256 * 2 ** 20, percent: 1 });
    assert.equal(capacity.reserveFor(10 * 2 ** 30), 256 * 2 ** 20);
    assert.equal(capacity.reserveFor(100 * 2 ** 30), 2 ** 30);
  });

  test("refusals carry the live figures in a STORAGE_FULL error", async () => {
    const capacity = new VolumeCapacity(os.tmpdir(), { bytes: 0, percent: 0 });
    const { freeBytes } = await capacity.stats();
    await capacity.ensureRoom(1024, { live: true, declared: true });
    await assert.rejects(capacity.ensureRoom(freeBytes * 4, { declared: true }), (e: Error & { code?: string; detail?: { neededBytes: number } }) => {
      assert.equal(e.code, "STORAGE_FULL");
      assert.equal(e.detail?.neededBytes, freeBytes * 4);
      assert.match(e.message, /the storage volume is full: .* free/);
      return isStorageFull(e);
    });
    assert.ok(isStorageFull({ code: "ENOSPC" }) && isStorageFull({ code: "SQLITE_FULL" }) && !isStorageFull({ code: "EACCES" }));
  });
});
