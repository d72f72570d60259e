import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { errorCodes, TestClient } from "../helpers/client.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

describe("API version check and routing", () => {
  let server: TestServer;
  let client: TestClient;
  before(async () => {
    server = await startTestServer();
    client = new TestClient(server.url);
  });
  after(() => server.dispose());

  test("GET /v2/ answers 200 with the API version header", async () => {
    for (const path of ["/v2/", "/v2"]) {
      const res = await client.fetch(path);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("docker-distribution-api-version"), "registry/2.0");
      assert.deepEqual(await res.json(), {});
    }
  });

  test("unknown routes get a spec error body with the version header", async () => {
    const res = await client.fetch("/v2/a/nothing-here/x/y");
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("docker-distribution-api-version"), "registry/2.0");
    assert.deepEqual(await errorCodes(res), ["UNSUPPORTED"]);
  });

  test("a method a route does not have answers 405 UNSUPPORTED", async () => {
    const res = await client.fetch("/v2/a/tags/list", { method: "DELETE" });
    assert.equal(res.status, 405);
    assert.deepEqual(await errorCodes(res), ["UNSUPPORTED"]);
  });

  test("a request id is echoed or generated", async () => {
    const given = await client.fetch("/v2/", { headers: { "X-Request-Id": "abc-123" } });
    assert.equal(given.headers.get("x-request-id"), "abc-123");
    const generated = await client.fetch("/v2/");
    assert.match(generated.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  });
});
