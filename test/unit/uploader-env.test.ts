import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { uploaderEnvironment } from "../../src/cli/uploader-env.js";

describe("DVCR's uploader environment", () => {
  const base = { UPLOADER_DESTINATION_ENDPOINT: "dvcr.d8-virtualization.svc/vi/ns/disk:latest" };

  test("DVCR's defaults: /upload on 8444, healthz on 8080, 10 minutes to start; the destination as the importer's", () => {
    const authFile = path.join(mkdtempSync(path.join(os.tmpdir(), "dvcr-uploader-env-")), ".dockerconfigjson");
    writeFileSync(authFile, JSON.stringify({ auths: {} }));
    const env = uploaderEnvironment({ ...base, UPLOADER_DESTINATION_AUTH_CONFIG: authFile, DESTINATION_INSECURE_TLS: "true", OWNER_UID: "uid-9" });
    assert.deepEqual(env.destination, { registry: "dvcr.d8-virtualization.svc", repository: "vi/ns/disk", tag: "latest", insecure: true, authFile });
    assert.equal(env.listenPort, 8444);
    assert.equal(env.healthzPort, 8080);
    assert.equal(env.waitTimeoutMs, 600_000);
    assert.equal(env.ownerUid, "uid-9");
    assert.equal(env.metricsListen, "0.0.0.0:8443");
    assert.equal(env.terminationMessagePath, "/dev/termination-log");
  });

  test("ports, UPLOADER_WAIT_TIMEOUT as a duration, an explicit scheme; refusals name the variable", () => {
    const env = uploaderEnvironment({ UPLOADER_DESTINATION_ENDPOINT: "http://127.0.0.1:5000/cvi/x:v1", LISTEN_PORT: "9000", HEALTHZ_PORT: "0", UPLOADER_WAIT_TIMEOUT: "1m30s" });
    assert.equal(env.destination.registry, "http://127.0.0.1:5000");
    assert.equal(env.destination.insecure, false);
    assert.equal(env.listenPort, 9000);
    assert.equal(env.healthzPort, 0);
    assert.equal(env.waitTimeoutMs, 90_000);
    assert.throws(() => uploaderEnvironment({}), /UPLOADER_DESTINATION_ENDPOINT is not set/);
    assert.throws(() => uploaderEnvironment({ UPLOADER_DESTINATION_ENDPOINT: `h.example/cvi/x@sha256:${"a".repeat(64)}` }), /UPLOADER_DESTINATION_ENDPOINT must name a tag/);
    assert.throws(() => uploaderEnvironment({ UPLOADER_DESTINATION_ENDPOINT: `h.example/cvi/x:${"t".repeat(200)}` }), /is not a valid tag/);
    assert.throws(() => uploaderEnvironment({ ...base, UPLOADER_DESTINATION_AUTH_CONFIG: "/nonexistent/.dockerconfigjson" }), /cannot read the docker config \/nonexistent/);
    assert.throws(() => uploaderEnvironment({ ...base, LISTEN_PORT: "http" }), /LISTEN_PORT "http" is not a port/);
    assert.throws(() => uploaderEnvironment({ ...base, HEALTHZ_PORT: "70000" }), /HEALTHZ_PORT "70000" is not a port/);
    assert.throws(() => uploaderEnvironment({ ...base, UPLOADER_WAIT_TIMEOUT: "soon" }), /UPLOADER_WAIT_TIMEOUT: invalid duration/);
    assert.throws(() => uploaderEnvironment({ ...base, UPLOADER_WAIT_TIMEOUT: "0" }), /UPLOADER_WAIT_TIMEOUT must be longer than 0/);
  });
});
