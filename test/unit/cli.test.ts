import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { describe, test } from "node:test";
import { CLI, startChildServer, tempDir } from "../helpers/server.js";

describe("dvcr CLI", () => {
  test("--help describes serve and its settings", () => {
    const out = execFileSync(process.execPath, [CLI, "--help"], { encoding: "utf8" });
    for (const word of ["serve", "--listen", "--root", "--config", "DVCR_LISTEN", "DVCR_ROOT", "DVCR_CONFIG"]) assert.ok(out.includes(word), word);
  });

  test("the built bin runs as a program (the README's `npx dvcr serve` executes it directly)", () => {
    const out = execFileSync(CLI, ["--help"], { encoding: "utf8" });
    assert.ok(out.includes("serve"));
  });

  test("unknown commands and bad flags fail with a message", () => {
    assert.throws(() => execFileSync(process.execPath, [CLI, "frobnicate"], { stdio: "pipe" }), /unknown command/);
    assert.throws(() => execFileSync(process.execPath, [CLI, "serve", "--nope"], { stdio: "pipe" }), /nope/);
    assert.throws(() => execFileSync(process.execPath, [CLI, "serve", "--listen", "bad"], { stdio: "pipe" }), /listen/);
  });

  test("serve starts, answers /v2/ and stops on SIGTERM", async () => {
    const root = tempDir();
    const server = await startChildServer(root);
    try {
      const res = await fetch(`${server.url}/v2/`);
      assert.equal(res.status, 200);
    } finally {
      await server.kill("SIGTERM");
      rmSync(root, { recursive: true, force: true });
    }
    assert.equal(await server.exited, 0);
  });
});
