import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { ConfigError, DEFAULT_CONFIG, loadConfig, parseListen } from "../../src/config/config.js";

describe("configuration", () => {
  test("defaults: 127.0.0.1:5000 and ./storage", () => {
    const c = loadConfig({}, {});
    assert.equal(c.listen, "127.0.0.1:5000");
    assert.equal(c.root, path.resolve("storage"));
    assert.equal(c.storage.maxManifestBytes, DEFAULT_CONFIG.storage.maxManifestBytes);
  });

  test("defaults < file < env < flags", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-cfg-"));
    const file = path.join(dir, "dvcr.yaml");
    writeFileSync(file, "listen: 127.0.0.1:6000\nroot: /from/file\nlog: {level: warn}\nstorage: {maxManifestBytes: 1024}\n");
    let c = loadConfig({ configFile: file }, {});
    assert.deepEqual([c.listen, c.root, c.log.level, c.storage.maxManifestBytes, c.storage.fsync], ["127.0.0.1:6000", "/from/file", "warn", 1024, true]);
    c = loadConfig({}, { DVCR_CONFIG: file, DVCR_LISTEN: "0.0.0.0:7000" });
    assert.deepEqual([c.listen, c.root], ["0.0.0.0:7000", "/from/file"]);
    c = loadConfig({ listen: "127.0.0.1:8000", root: "/flag" }, { DVCR_CONFIG: file, DVCR_LISTEN: "0.0.0.0:7000", DVCR_ROOT: "/env" });
    assert.deepEqual([c.listen, c.root], ["127.0.0.1:8000", "/flag"]);
  });

  test("invalid settings are refused with a message naming the key", () => {
    assert.throws(() => loadConfig({ listen: "nonsense" }, {}), (e: Error) => e instanceof ConfigError && /listen/.test(e.message));
    const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-cfg-"));
    const file = path.join(dir, "bad.yaml");
    writeFileSync(file, "storage: {maxManifestBytes: -5}\n");
    assert.throws(() => loadConfig({ configFile: file }, {}), /storage.maxManifestBytes/);
    assert.throws(() => loadConfig({ configFile: path.join(dir, "missing.yaml") }, {}), /cannot read config file/);
  });

  test("debug.listen and storage.directIo: file < env < flag, and bad values named", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-cfg-"));
    const file = path.join(dir, "dvcr.yaml");
    writeFileSync(file, "debug: {listen: 127.0.0.1:5001}\nstorage: {directIo: false}\n");
    assert.equal(loadConfig({}, {}).debug?.listen, undefined, "off by default");
    assert.equal(loadConfig({}, {}).storage.directIo, true, "on by default");
    let c = loadConfig({ configFile: file }, {});
    assert.deepEqual([c.debug?.listen, c.storage.directIo], ["127.0.0.1:5001", false]);
    c = loadConfig({ configFile: file }, { DVCR_DEBUG_LISTEN: "0.0.0.0:5002", DVCR_STORAGE_DIRECT_IO: "true" });
    assert.deepEqual([c.debug?.listen, c.storage.directIo], ["0.0.0.0:5002", true]);
    c = loadConfig({ configFile: file, debugListen: "127.0.0.1:5003" }, { DVCR_DEBUG_LISTEN: "0.0.0.0:5002" });
    assert.equal(c.debug?.listen, "127.0.0.1:5003");
    assert.throws(() => loadConfig({ debugListen: "5001" }, {}), /debug.listen must be HOST:PORT/);
    assert.throws(() => loadConfig({}, { DVCR_STORAGE_DIRECT_IO: "yes" }), /storage.directIo/);
  });

  test("shutdown.grace: 25 s by default (under Kubernetes' 30 s), from the file or DVCR_SHUTDOWN_GRACE", () => {
    assert.equal(loadConfig({}, {}).shutdown.grace, 25_000);
    const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-cfg-"));
    const file = path.join(dir, "dvcr.yaml");
    writeFileSync(file, "shutdown: {grace: 10s}\n");
    assert.equal(loadConfig({ configFile: file }, {}).shutdown.grace, 10_000);
    assert.equal(loadConfig({ configFile: file }, { DVCR_SHUTDOWN_GRACE: "2m" }).shutdown.grace, 120_000);
    assert.throws(() => loadConfig({}, { DVCR_SHUTDOWN_GRACE: "soon" }), /shutdown.grace/);
  });

  test("listen addresses: HOST:PORT, [v6]:PORT, and :PORT for every interface (the README's debug.listen: :5001)", () => {
    assert.deepEqual(parseListen("127.0.0.1:5000"), { host: "127.0.0.1", port: 5000 });
    assert.deepEqual(parseListen("[::1]:5000"), { host: "::1", port: 5000 });
    assert.deepEqual(parseListen(":5001"), { host: undefined, port: 5001 });
    const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-cfg-"));
    const file = path.join(dir, "dvcr.yaml");
    writeFileSync(file, "debug:\n  listen: :5001\nlisten: :5000\n");
    const c = loadConfig({ configFile: file }, {});
    assert.deepEqual([c.listen, c.debug?.listen], [":5000", ":5001"]);
  });

  test("unknown keys are refused by path, with the key that was probably meant", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-cfg-"));
    const file = path.join(dir, "dvcr.yaml");
    const refused = (yaml: string) => {
      writeFileSync(file, yaml);
      try {
        loadConfig({ configFile: file }, {});
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.message;
      }
      assert.fail(`accepted: ${yaml}`);
    };
    assert.match(refused("tsl: {cert: a.crt, key: a.key}\n"), /tsl: unknown key \(did you mean tls\?\)/);
    assert.match(refused("auht: {anonymousPull: true}\n"), /auht: unknown key \(did you mean auth\?\)/);
    assert.match(refused("storage: {reserve: {byte: 1}}\n"), /storage\.reserve\.byte: unknown key \(did you mean storage\.reserve\.bytes\?\)/);
    assert.match(refused("auth: {admin: {username: a, passwordfile: /x}}\n"), /auth\.admin\.passwordfile: unknown key \(did you mean auth\.admin\.passwordFile\?\)/);
    assert.match(refused("http: {bodyIdle: 5s}\n"), /http\.bodyIdle: unknown key/);
    assert.match(refused("frobnicate: 1\n"), /frobnicate: unknown key \(known here: listen, root/);
  });

  test("http timeouts: defaults that never cut a moving transfer, from file and env", () => {
    const d = loadConfig({}, {}).http;
    assert.deepEqual(d, { bodyIdleTimeout: 60_000, sendIdleTimeout: 60_000, headersTimeout: 60_000, keepAliveTimeout: 65_000, maxConnections: 1024 });
    const dir = mkdtempSync(path.join(os.tmpdir(), "dvcr-cfg-"));
    const file = path.join(dir, "dvcr.yaml");
    writeFileSync(file, "http: {bodyIdleTimeout: 2m, maxConnections: 64}\n");
    const c = loadConfig({ configFile: file }, { DVCR_HTTP_SEND_IDLE_TIMEOUT: "90s" }).http;
    assert.deepEqual([c.bodyIdleTimeout, c.sendIdleTimeout, c.maxConnections], [120_000, 90_000, 64]);
    assert.throws(() => loadConfig({}, { DVCR_HTTP_BODY_IDLE_TIMEOUT: "soon" }), /http\.bodyIdleTimeout/);
  });
});
