import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { readdirSync } from "node:fs";
import { rawRequest, TestClient } from "../helpers/client.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

describe("repository names: spec grammar, no traversal", () => {
  let server: TestServer;
  let client: TestClient;
  before(async () => {
    server = await startTestServer();
    client = new TestClient(server.url);
  });
  after(() => server.dispose());

  const hostile = [
    "a%2F..%2F..%2Fetc",
    "cvi/%2E%2E/x",
    "cvi/../x",
    "cvi/./x",
    "..%2Fx",
    "UPPER",
    "a//b",
    "a/-b",
    "a_",
    ".hidden",
    "a%00b",
    "x".repeat(256),
  ];

  for (const name of hostile) {
    test(`NAME_INVALID for ${name.slice(0, 40)}`, async () => {
      for (const [method, path] of [
        ["POST", `/v2/${name}/blobs/uploads/`],
        ["GET", `/v2/${name}/tags/list`],
        ["GET", `/v2/${name}/manifests/latest`],
        ["PUT", `/v2/${name}/manifests/latest`],
      ] as const) {
        const res = await rawRequest(server.url, method, path, method === "PUT" ? "{}" : undefined);
        assert.equal(res.status, 400, `${method} ${path}`);
        assert.equal(JSON.parse(res.body).errors[0].code, "NAME_INVALID");
      }
    });
  }

  test("literal ../ in the path is normalised by the client and never reaches storage", async () => {
    const res = await client.fetch("/v2/a/../../etc/blobs/uploads/", { method: "POST" });
    // fetch normalises the URL to /etc/blobs/uploads/ which is no route of ours.
    assert.equal(res.status, 404);
    assert.deepEqual(readdirSync(server.root).sort(), ["blobs", "dvcr.lock", "meta.db", "meta.db-shm", "meta.db-wal", "uploads"]);
  });

  test("valid names of the spec grammar are accepted", async () => {
    for (const name of ["a", "cvi/ubuntu-22.04", "vi/ns/name", "a__b/c.d/e---f", "0/1/2/3/4"]) {
      const res = await client.fetch(`/v2/${name}/blobs/uploads/`, { method: "POST" });
      assert.equal(res.status, 202, name);
    }
  });
});
