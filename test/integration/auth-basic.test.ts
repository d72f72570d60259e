import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  AuthClient,
  basic,
  controllerToken,
  createAuthFixture,
  errorOf,
  rawAuthRequest,
  repositoryAccess,
  type AuthFixture,
} from "../helpers/auth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

/** One action as a client performs it; returns the HTTP status. */
type Action = "pull" | "push" | "delete" | "catalog";

describe("auth: DVCR's Basic subjects against every action (no token service)", () => {
  let fx: AuthFixture;
  let server: TestServer;
  let admin: AuthClient;
  let tag = 0;

  before(async () => {
    fx = createAuthFixture();
    server = await startTestServer({ auth: fx.auth });
    admin = new AuthClient(server.url, basic(fx.admin.username, fx.admin.password));
    for (const repo of ["cvi/x", "cvi/y", "vi/ns/a"]) await admin.pushImage(repo, "latest");
  });
  after(async () => {
    await server.dispose();
    rmSync(fx.dir, { recursive: true, force: true });
  });

  async function attempt(client: AuthClient, action: Action, repo = "cvi/x"): Promise<Response> {
    switch (action) {
      case "pull":
        return client.fetch(`/v2/${repo}/manifests/latest`);
      case "push":
        return client.fetch(`/v2/${repo}/blobs/uploads/`, { method: "POST" });
      case "delete": {
        // A tag of its own for every delete, pushed by the admin.
        const name = `del-${++tag}`;
        const image = await admin.pushImage(repo, name);
        assert.ok(image.digest);
        return client.fetch(`/v2/${repo}/manifests/${name}`, { method: "DELETE" });
      }
      case "catalog":
        return client.fetch("/v2/_catalog");
    }
  }

  const ALLOWED: Record<Action, number> = { pull: 200, push: 202, delete: 202, catalog: 200 };

  async function expectMatrix(client: AuthClient, expected: Record<Action, "allowed" | 401 | 403>, repo = "cvi/x"): Promise<void> {
    for (const action of ["pull", "push", "delete", "catalog"] as const) {
      const res = await attempt(client, action, repo);
      const want = expected[action] === "allowed" ? ALLOWED[action] : expected[action];
      assert.equal(res.status, want, `${action} on ${repo}: ${res.status}`);
      if (want === 403) {
        assert.equal((await errorOf(res)).code, "DENIED");
        assert.match(res.headers.get("www-authenticate") ?? "", /error="insufficient_scope"/);
      } else if (want === 401) {
        assert.equal((await errorOf(res)).code, "UNAUTHORIZED");
        assert.match(res.headers.get("www-authenticate") ?? "", /^Basic realm="dvcr"/);
      } else {
        await res.arrayBuffer();
      }
    }
  }

  test("admin: every action, and the catalog", async () => {
    await expectMatrix(admin, { pull: "allowed", push: "allowed", delete: "allowed", catalog: "allowed" });
  });

  test("node puller: pull on every repository, nothing else", async () => {
    const puller = new AuthClient(server.url, basic(fx.puller.username, fx.puller.password));
    await expectMatrix(puller, { pull: "allowed", push: 403, delete: 403, catalog: 403 });
    await expectMatrix(puller, { pull: "allowed", push: 403, delete: 403, catalog: 403 }, "vi/ns/a");
  });

  test("htpasswd user without an access map: every action", async () => {
    const alice = new AuthClient(server.url, basic("alice", "alice-secret-1"));
    await expectMatrix(alice, { pull: "allowed", push: "allowed", delete: "allowed", catalog: "allowed" });
  });

  test("any other user with a controller JWT as password: exactly its access claim", async () => {
    const token = await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/x", "pull", "push") });
    const importer = new AuthClient(server.url, basic("importer", token));
    await expectMatrix(importer, { pull: "allowed", push: "allowed", delete: 403, catalog: 403 });
    await expectMatrix(importer, { pull: 403, push: 403, delete: 403, catalog: 403 }, "cvi/y");

    const deleter = new AuthClient(server.url, basic("cleaner", await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/y", "delete") })));
    await expectMatrix(deleter, { pull: 403, push: 403, delete: "allowed", catalog: 403 }, "cvi/y");

    const star = new AuthClient(server.url, basic("owner", await controllerToken(fx.controllerKey, { access: repositoryAccess("vi/ns/a", "*") })));
    await expectMatrix(star, { pull: "allowed", push: "allowed", delete: "allowed", catalog: 403 }, "vi/ns/a");
    await expectMatrix(star, { pull: 403, push: 403, delete: 403, catalog: 403 }, "cvi/x");
  });

  test("no credentials: 401 with Basic realm=\"dvcr\" everywhere, /v2/ included", async () => {
    const anonymous = new AuthClient(server.url);
    await expectMatrix(anonymous, { pull: 401, push: 401, delete: 401, catalog: 401 });
    const res = await anonymous.fetch("/v2/");
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("www-authenticate"), 'Basic realm="dvcr"');
  });

  test("/v2/ answers 200 to any authenticated subject, 401 to wrong credentials", async () => {
    for (const auth of [basic(fx.admin.username, fx.admin.password), basic(fx.puller.username, fx.puller.password), basic("alice", "alice-secret-1")]) {
      assert.equal((await new AuthClient(server.url, auth).fetch("/v2/")).status, 200);
    }
    for (const auth of [
      basic(fx.admin.username, "wrong"),
      basic(fx.admin.username, `${fx.admin.password}x`),
      basic(fx.puller.username, fx.admin.password),
      basic("alice", "alice-secret-2"),
      basic("nobody", "nothing"),
      "Basic !!!",
      "Digest abc",
    ]) {
      const res = await new AuthClient(server.url, auth).fetch("/v2/");
      assert.equal(res.status, 401, auth);
      const error = await errorOf(res);
      assert.equal(error.code, "UNAUTHORIZED");
      assert.match(error.message, /invalid username or password|malformed|unsupported authorization scheme/);
    }
  });

  test("403 DENIED names what is missing; the body is a spec error", async () => {
    const puller = new AuthClient(server.url, basic(fx.puller.username, fx.puller.password));
    const res = await puller.fetch("/v2/cvi/x/blobs/uploads/", { method: "POST" });
    assert.equal(res.status, 403);
    const error = await errorOf(res);
    assert.equal(error.code, "DENIED");
    assert.match(error.message, /push on repository cvi\/x/);
  });

  test("every method maps to distribution's action", async () => {
    // A token that can only pull: GET/HEAD pass, POST/PUT/PATCH/DELETE are refused.
    const pullOnly = new AuthClient(server.url, basic("t", await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/x", "pull") })));
    const image = await admin.pushImage("cvi/x", "methods");
    const upload = await admin.startUpload("cvi/x");
    const cases: [string, string, number][] = [
      ["GET", "/v2/cvi/x/manifests/methods", 200],
      ["HEAD", "/v2/cvi/x/manifests/methods", 200],
      ["GET", `/v2/cvi/x/blobs/${image.layerDigest}`, 200],
      ["HEAD", `/v2/cvi/x/blobs/${image.layerDigest}`, 200],
      ["GET", "/v2/cvi/x/tags/list", 200],
      ["GET", `/v2/cvi/x/referrers/${image.digest}`, 200],
      ["GET", upload, 204],
      ["POST", "/v2/cvi/x/blobs/uploads/", 403],
      ["PATCH", upload, 403],
      ["PUT", `${upload}?digest=${image.layerDigest}`, 403],
      ["PUT", "/v2/cvi/x/manifests/methods", 403],
      ["DELETE", "/v2/cvi/x/manifests/methods", 403],
      ["DELETE", `/v2/cvi/x/blobs/${image.layerDigest}`, 403],
      ["DELETE", upload, 403],
    ];
    for (const [method, path, status] of cases) {
      const res = await pullOnly.fetch(path, { method, ...(method === "PUT" || method === "PATCH" ? { body: "{}" } : {}) });
      assert.equal(res.status, status, `${method} ${path}`);
      await res.arrayBuffer();
    }
    // push without pull is not enough for POST/PUT/PATCH: distribution asks for both.
    const pushOnly = new AuthClient(server.url, basic("t", await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/x", "push") })));
    const res = await pushOnly.fetch("/v2/cvi/x/blobs/uploads/", { method: "POST" });
    assert.equal(res.status, 403);
    assert.match((await errorOf(res)).message, /pull on repository cvi\/x/);
  });

  test("cross-repository mount needs pull on the source; the automatic mount only reads what the caller may pull", async () => {
    const image = await admin.pushImage("cvi/x", "mount-source");
    const mount = (client: AuthClient, target: string, from?: string) =>
      client.fetch(`/v2/${target}/blobs/uploads/?mount=${image.layerDigest}${from ? `&from=${from}` : ""}`, { method: "POST" });

    const pushOnlyTarget = new AuthClient(server.url, basic("t", await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/m1", "pull", "push") })));
    const denied = await mount(pushOnlyTarget, "cvi/m1", "cvi/x");
    assert.equal(denied.status, 403);
    assert.match((await errorOf(denied)).message, /pull on repository cvi\/x/);
    // Without `from`, the blob exists in cvi/x but this caller cannot read it: no mount, a session.
    const fallback = await mount(pushOnlyTarget, "cvi/m1");
    assert.equal(fallback.status, 202);
    assert.equal((await pushOnlyTarget.fetch(`/v2/cvi/m1/blobs/${image.layerDigest}`, { method: "HEAD" })).status, 404);

    const withSource = new AuthClient(
      server.url,
      basic("t", await controllerToken(fx.controllerKey, { access: [...repositoryAccess("cvi/m2", "pull", "push"), ...repositoryAccess("cvi/x", "pull")] })),
    );
    assert.equal((await mount(withSource, "cvi/m2", "cvi/x")).status, 201);
    assert.equal((await mount(withSource, "cvi/m3")).status, 403, "no push on cvi/m3");
    const auto = new AuthClient(
      server.url,
      basic("t", await controllerToken(fx.controllerKey, { access: [...repositoryAccess("cvi/m4", "pull", "push"), ...repositoryAccess("cvi/x", "pull")] })),
    );
    assert.equal((await mount(auto, "cvi/m4")).status, 201, "automatic mount from a readable repository");
  });

  test("path cleaning: a grant for cvi/y is never reached through cvi/x/../y, and never escapes", async () => {
    const forY = basic("t", await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/y", "pull", "push", "delete") }));
    assert.equal((await rawAuthRequest(server.url, "GET", "/v2/cvi/y/manifests/latest", forY)).status, 200);
    for (const path of [
      "/v2/cvi/x/../y/manifests/latest",
      "/v2/cvi/x/%2E%2E/y/manifests/latest",
      "/v2/cvi/x%2F..%2Fy/manifests/latest",
      "/v2/cvi/./y/manifests/latest",
      "/v2/cvi//y/manifests/latest",
      "/v2/../v2/cvi/y/../../etc/manifests/latest",
    ]) {
      for (const auth of [forY, basic(fx.admin.username, fx.admin.password)]) {
        const res = await rawAuthRequest(server.url, "GET", path, auth);
        assert.ok(res.status === 400 || res.status === 404, `${path}: ${res.status}`);
        if (res.status === 400) assert.equal(JSON.parse(res.body).errors[0].code, "NAME_INVALID");
      }
    }
    // The other way round: a claim naming cvi/x/../y grants nothing on cvi/y.
    const dotted = basic("t", await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/x/../y", "pull") }));
    assert.equal((await rawAuthRequest(server.url, "GET", "/v2/cvi/y/manifests/latest", dotted)).status, 403);
    // A percent-encoded slash names the same repository for the check and for the handler.
    const encoded = await rawAuthRequest(server.url, "GET", "/v2/cvi%2Fy/manifests/latest", forY);
    assert.equal(encoded.status, 200);
    const other = await rawAuthRequest(server.url, "GET", "/v2/cvi%2Fx/manifests/latest", forY);
    assert.equal(other.status, 403);
  });

  test("the operations API is for admins only; probes and metrics need no credentials", async () => {
    const puller = new AuthClient(server.url, basic(fx.puller.username, fx.puller.password));
    const owner = new AuthClient(server.url, basic("t", await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/y", "*") })));
    const anonymous = new AuthClient(server.url);
    for (const [method, path] of [["GET", "/api/v1/storage"], ["GET", "/api/v1/tasks"], ["DELETE", "/api/v1/repositories/cvi/y"]] as const) {
      assert.equal((await anonymous.fetch(path, { method })).status, 401, `${method} ${path}`);
      for (const client of [puller, owner]) {
        const res = await client.fetch(path, { method });
        assert.equal(res.status, 403, `${method} ${path}`);
        assert.equal((await errorOf(res)).code, "DENIED");
      }
    }
    assert.equal((await admin.fetch("/api/v1/tasks")).status, 200);
    for (const path of ["/healthz", "/readyz", "/metrics"]) assert.equal((await anonymous.fetch(path)).status, 200, path);
    // Without a token service there is no token endpoint (and so nothing public there).
    assert.equal((await anonymous.fetch("/auth/token")).status, 404);
  });

  test("from= must be a valid name too, and only once", async () => {
    const res = await admin.fetch("/v2/cvi/z/blobs/uploads/?mount=sha256:" + "a".repeat(64) + "&from=cvi/x/../y", { method: "POST" });
    assert.equal(res.status, 400);
    assert.equal((await errorOf(res)).code, "NAME_INVALID");
    // Two sources would leave it open which one was authorized: refused.
    const twice = await admin.fetch("/v2/cvi/z/blobs/uploads/?mount=sha256:" + "a".repeat(64) + "&from=cvi/x&from=cvi/y", { method: "POST" });
    assert.equal(twice.status, 400);
    await twice.arrayBuffer();
  });
});

describe("auth: htpasswd access map and anonymous pull", () => {
  let fx: AuthFixture;
  let server: TestServer;
  let admin: AuthClient;

  before(async () => {
    fx = createAuthFixture();
    server = await startTestServer({
      auth: { ...fx.auth, htpasswd: { path: fx.htpasswdFile, access: { "cvi/*": ["pull"], "vi/**": ["pull", "push"] } }, anonymousPull: true },
    });
    admin = new AuthClient(server.url, basic(fx.admin.username, fx.admin.password));
    for (const repo of ["cvi/x", "vi/ns/a", "vd/ns/d"]) await admin.pushImage(repo, "latest");
  });
  after(async () => {
    await server.dispose();
    rmSync(fx.dir, { recursive: true, force: true });
  });

  test("globs: * stays in one component, ** crosses them; the catalog is not granted", async () => {
    const alice = new AuthClient(server.url, basic("alice", "alice-secret-1"));
    const status = async (method: string, path: string) => {
      const res = await alice.fetch(path, { method });
      await res.arrayBuffer();
      return res.status;
    };
    assert.equal(await status("GET", "/v2/cvi/x/manifests/latest"), 200);
    assert.equal(await status("POST", "/v2/cvi/x/blobs/uploads/"), 403);
    assert.equal(await status("GET", "/v2/vi/ns/a/manifests/latest"), 200);
    assert.equal(await status("POST", "/v2/vi/ns/a/blobs/uploads/"), 202);
    assert.equal(await status("DELETE", "/v2/vi/ns/a/manifests/latest"), 403);
    assert.equal(await status("POST", "/v2/cvi/x/y/blobs/uploads/"), 403);
    assert.equal(await status("GET", "/v2/vd/ns/d/manifests/latest"), 403);
    assert.equal(await status("GET", "/v2/_catalog"), 403);
  });

  test("anonymous pull: reads without credentials, anything else asks for them (401, not 403)", async () => {
    const anonymous = new AuthClient(server.url);
    assert.equal((await anonymous.fetch("/v2/")).status, 200);
    assert.equal((await anonymous.fetch("/v2/vd/ns/d/manifests/latest")).status, 200);
    const push = await anonymous.fetch("/v2/vd/ns/d/blobs/uploads/", { method: "POST" });
    assert.equal(push.status, 401);
    assert.equal(push.headers.get("www-authenticate"), 'Basic realm="dvcr"');
    const catalog = await anonymous.fetch("/v2/_catalog");
    assert.equal(catalog.status, 401);
    // Credentials that are given are still checked.
    assert.equal((await new AuthClient(server.url, basic("alice", "wrong")).fetch("/v2/vd/ns/d/manifests/latest")).status, 401);
  });
});
