import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from "jose";
import type { Config } from "../../src/config/config.js";
import {
  AuthClient,
  basic,
  controllerToken,
  createAuthFixture,
  errorOf,
  repositoryAccess,
  type AuthFixture,
} from "../helpers/auth.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";

interface TokenResponse {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}

describe("auth: Docker token service (Bearer challenges, /auth/token, /auth/jwks.json)", () => {
  let fx: AuthFixture;
  let server: TestServer;
  let config: Partial<Config>;
  const adminBasic = () => basic(fx.admin.username, fx.admin.password);

  async function getToken(authorization: string | undefined, ...scopes: string[]): Promise<Response> {
    const query = new URLSearchParams({ service: "dvcr" });
    for (const s of scopes) query.append("scope", s);
    return new AuthClient(server.url, authorization).fetch(`/auth/token?${query}`);
  }

  async function tokenFor(authorization: string, ...scopes: string[]): Promise<string> {
    const res = await getToken(authorization, ...scopes);
    assert.equal(res.status, 200, await res.clone().text());
    return ((await res.json()) as TokenResponse).token;
  }

  before(async () => {
    fx = createAuthFixture();
    config = { auth: { ...fx.auth, token: {} } };
    server = await startTestServer(config);
    const admin = new AuthClient(server.url, adminBasic());
    await admin.pushImage("cvi/x", "latest");
    await admin.pushImage("cvi/y", "latest");
  });
  after(async () => {
    await server.dispose();
    rmSync(fx.dir, { recursive: true, force: true });
  });

  test("401s challenge with Bearer realm, service and the scope the request needs", async () => {
    const anonymous = new AuthClient(server.url);
    const realm = `realm="${server.url}/auth/token",service="dvcr"`;
    const cases: [string, string, string][] = [
      ["GET", "/v2/", `Bearer ${realm}`],
      ["GET", "/v2/cvi/x/manifests/latest", `Bearer ${realm},scope="repository:cvi/x:pull"`],
      ["POST", "/v2/cvi/x/blobs/uploads/", `Bearer ${realm},scope="repository:cvi/x:pull,push"`],
      ["DELETE", "/v2/cvi/x/manifests/latest", `Bearer ${realm},scope="repository:cvi/x:delete"`],
      ["GET", "/v2/_catalog", `Bearer ${realm},scope="registry:catalog:*"`],
      ["POST", `/v2/cvi/z/blobs/uploads/?mount=sha256:${"a".repeat(64)}&from=cvi/x`, `Bearer ${realm},scope="repository:cvi/z:pull,push repository:cvi/x:pull"`],
    ];
    for (const [method, path, challenge] of cases) {
      const res = await anonymous.fetch(path, { method });
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get("www-authenticate"), challenge);
      assert.equal((await errorOf(res)).code, "UNAUTHORIZED");
    }
  });

  test("GET /auth/token with Basic returns a token that the registry accepts as Bearer", async () => {
    const res = await getToken(adminBasic(), "repository:cvi/x:pull,push");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const body = (await res.json()) as TokenResponse;
    assert.equal(body.token, body.access_token);
    assert.equal(body.expires_in, 300);
    assert.ok(Math.abs(Date.parse(body.issued_at) - Date.now()) < 60_000);
    const claims = decodeJwt(body.token);
    assert.deepEqual(claims.access, repositoryAccess("cvi/x", "pull", "push"));
    assert.equal(claims.sub, fx.admin.username);
    assert.equal(claims.aud, "dvcr");

    const bearer = new AuthClient(server.url, `Bearer ${body.token}`);
    assert.equal((await bearer.fetch("/v2/cvi/x/manifests/latest")).status, 200);
    const pushed = await bearer.pushImage("cvi/x", "via-token");
    assert.ok(pushed.digest);
    assert.equal((await bearer.fetch("/v2/")).status, 200);
  });

  test("a token for one repository sends the client back for another (401 insufficient_scope)", async () => {
    const token = await tokenFor(adminBasic(), "repository:cvi/x:pull");
    const bearer = new AuthClient(server.url, `Bearer ${token}`);
    const res = await bearer.fetch("/v2/cvi/y/manifests/latest");
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get("www-authenticate"),
      `Bearer realm="${server.url}/auth/token",service="dvcr",scope="repository:cvi/y:pull",error="insufficient_scope"`,
    );
    const push = await bearer.fetch("/v2/cvi/x/blobs/uploads/", { method: "POST" });
    assert.equal(push.status, 401, "push was never asked for: get a new token");
  });

  test("an automatic mount (no from) looks only where the token grants pull: 202 without the source's scope, 201 with it", async () => {
    const source = await new AuthClient(server.url, adminBasic()).pushImage("cvi/mount-src", "v1");
    const mount = (token: string, target: string) =>
      new AuthClient(server.url, `Bearer ${token}`).fetch(`/v2/${target}/blobs/uploads/?mount=${source.layerDigest}`, { method: "POST" });
    // The admin could read cvi/mount-src, but this token names only the target.
    const targetOnly = await mount(await tokenFor(adminBasic(), "repository:cvi/mount-a:pull,push"), "cvi/mount-a");
    assert.equal(targetOnly.status, 202);
    const withSource = await mount(await tokenFor(adminBasic(), "repository:cvi/mount-b:pull,push", "repository:cvi/mount-src:pull"), "cvi/mount-b");
    assert.equal(withSource.status, 201);
    assert.equal(withSource.headers.get("docker-content-digest"), source.layerDigest);
  });

  test("the token carries only what the subject may do; asked-for-and-refused is 403 DENIED", async () => {
    const token = await tokenFor(basic(fx.puller.username, fx.puller.password), "repository:cvi/x:pull,push", "registry:catalog:*");
    assert.deepEqual(decodeJwt(token).access, [
      { type: "repository", name: "cvi/x", actions: ["pull"] },
      { type: "registry", name: "catalog", actions: [] },
    ]);
    const bearer = new AuthClient(server.url, `Bearer ${token}`);
    assert.equal((await bearer.fetch("/v2/cvi/x/manifests/latest")).status, 200);
    const push = await bearer.fetch("/v2/cvi/x/blobs/uploads/", { method: "POST" });
    assert.equal(push.status, 403);
    assert.equal((await errorOf(push)).code, "DENIED");
    assert.match(push.headers.get("www-authenticate") ?? "", /error="insufficient_scope"/);
    assert.equal((await bearer.fetch("/v2/_catalog")).status, 403);
  });

  test("a controller JWT as the Basic password gets a token within its access claim", async () => {
    const jwt = await controllerToken(fx.controllerKey, { sub: "importer-cvi-y", access: repositoryAccess("cvi/y", "pull", "push") });
    const token = await tokenFor(basic("importer", jwt), "repository:cvi/y:pull,push,delete", "repository:cvi/x:pull");
    const claims = decodeJwt(token);
    assert.equal(claims.sub, "importer-cvi-y");
    assert.deepEqual(claims.access, [
      { type: "repository", name: "cvi/y", actions: ["pull", "push"] },
      { type: "repository", name: "cvi/x", actions: [] },
    ]);
  });

  test("Basic credentials are still accepted directly (nodes authenticate preemptively)", async () => {
    const res = await new AuthClient(server.url, basic(fx.puller.username, fx.puller.password)).fetch("/v2/cvi/x/manifests/latest");
    assert.equal(res.status, 200);
  });

  test("the token endpoint refuses wrong credentials, unknown services and bad scopes", async () => {
    const wrong = await getToken(basic(fx.admin.username, "nope"), "repository:cvi/x:pull");
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get("www-authenticate"), 'Basic realm="dvcr"');
    assert.match((await errorOf(wrong)).message, /invalid username or password/);

    const none = await getToken(undefined, "repository:cvi/x:pull");
    assert.equal(none.status, 401);

    const service = await new AuthClient(server.url, adminBasic()).fetch("/auth/token?service=elsewhere&scope=repository:cvi/x:pull");
    assert.equal(service.status, 400);
    await service.arrayBuffer();

    const malformed = await getToken(adminBasic(), "repository-cvi-x");
    assert.equal(malformed.status, 400);
    await malformed.arrayBuffer();

    const badName = await getToken(adminBasic(), "repository:cvi/x/../y:pull");
    assert.equal(badName.status, 400);
    assert.equal((await errorOf(badName)).code, "NAME_INVALID");

    // No scope at all (what `podman login` asks for): a token that only proves who you are.
    const login = await tokenFor(adminBasic());
    assert.deepEqual(decodeJwt(login).access, []);
    assert.equal((await new AuthClient(server.url, `Bearer ${login}`).fetch("/v2/")).status, 200);
  });

  /** POST /auth/token with an OAuth2 form (what containerd sends first when it has credentials). */
  async function postToken(fields: Record<string, string | string[]>, contentType = "application/x-www-form-urlencoded"): Promise<Response> {
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(fields)) for (const v of [value].flat()) form.append(key, v);
    return new AuthClient(server.url).fetch("/auth/token", { method: "POST", body: form.toString(), headers: { "Content-Type": contentType } });
  }

  test("POST /auth/token: an OAuth2 password grant returns a token within the account's rights, and its granted scope", async () => {
    const res = await postToken({
      grant_type: "password",
      service: "dvcr",
      client_id: "containerd-client",
      username: fx.puller.username,
      password: fx.puller.password,
      scope: ["repository:cvi/x:pull,push", "repository:cvi/y:pull"],
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get("cache-control"), "no-store");
    const body = (await res.json()) as { access_token: string; scope: string; expires_in: number; issued_at: string; refresh_token?: string };
    assert.equal(body.scope, "repository:cvi/x:pull repository:cvi/y:pull");
    assert.equal(body.expires_in, 300);
    assert.ok(!Number.isNaN(Date.parse(body.issued_at)));
    assert.equal(body.refresh_token, undefined, "no refresh tokens are issued");
    const bearer = new AuthClient(server.url, `Bearer ${body.access_token}`);
    assert.equal((await bearer.fetch("/v2/cvi/y/manifests/latest")).status, 200);
    const push = await bearer.fetch("/v2/cvi/x/blobs/uploads/", { method: "POST" });
    assert.equal(push.status, 403);
    assert.equal((await errorOf(push)).code, "DENIED");
  });

  test("POST /auth/token refuses wrong passwords (401), other grants, other services, missing fields and other bodies (400)", async () => {
    const base = { grant_type: "password", service: "dvcr", client_id: "test", username: fx.admin.username, password: fx.admin.password };
    const wrong = await postToken({ ...base, password: "nope" });
    assert.equal(wrong.status, 401);
    assert.match((await errorOf(wrong)).message, /invalid username or password/);
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...base, grant_type: "refresh_token", refresh_token: "x" }, /no refresh tokens/],
      [{ ...base, grant_type: "client_credentials" }, /grant_type must be password/],
      [{ ...base, service: "elsewhere" }, /unknown service/],
      [{ ...base, client_id: "" }, /client_id is required/],
      [{ grant_type: "password", service: "dvcr", client_id: "test", username: fx.admin.username }, /username and password are required/],
      [{ ...base, scope: "repository-cvi-x" }, /malformed scope/],
    ];
    for (const [fields, message] of cases) {
      const res = await postToken(fields);
      assert.equal(res.status, 400, JSON.stringify(fields));
      const error = await errorOf(res);
      assert.equal(error.code, "UNSUPPORTED");
      assert.match(error.message, message);
    }
    const json = await postToken(base, "application/json");
    assert.equal(json.status, 400);
    assert.match((await errorOf(json)).message, /x-www-form-urlencoded/);
    const huge = await postToken({ ...base, scope: "repository:cvi/x:pull ".repeat(2000) });
    assert.equal(huge.status, 413);
    await huge.arrayBuffer();
  });

  test("JWKS publishes the key that verifies our tokens", async () => {
    const res = await new AuthClient(server.url).fetch("/auth/jwks.json");
    assert.equal(res.status, 200);
    const jwks = (await res.json()) as JSONWebKeySet;
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]!.alg, "ES256");
    assert.equal(jwks.keys[0]!.d, undefined, "never the private part");
    const token = await tokenFor(adminBasic(), "repository:cvi/x:pull");
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: "dvcr-token-service", audience: "dvcr" });
    assert.equal(protectedHeader.kid, jwks.keys[0]!.kid);
    assert.ok(payload.exp! - payload.iat! === 300);
  });

  test("our tokens cannot be altered, and controller tokens are still accepted as Bearer", async () => {
    const token = await tokenFor(adminBasic(), "repository:cvi/x:pull");
    const [header, payload, signature] = token.split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<string, unknown>;
    claims.access = repositoryAccess("cvi/y", "*");
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${signature}`;
    const res = await new AuthClient(server.url, `Bearer ${forged}`).fetch("/v2/cvi/y/manifests/latest");
    assert.equal(res.status, 401);
    assert.match((await errorOf(res)).message, /signature is invalid/);
    assert.match(res.headers.get("www-authenticate") ?? "", /error="invalid_token"/);

    const controller = await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/y", "pull") });
    assert.equal((await new AuthClient(server.url, `Bearer ${controller}`).fetch("/v2/cvi/y/manifests/latest")).status, 200);
  });
});

describe("auth: the generated token key survives restarts", () => {
  test("same key id and old tokens still valid after a restart on the same root", async () => {
    const fx = createAuthFixture();
    const root = tempDir();
    const config = { auth: { ...fx.auth, token: { service: "registry.example" } } };
    const kidOf = async (url: string) => ((await (await fetch(`${url}/auth/jwks.json`)).json()) as JSONWebKeySet).keys[0]!.kid;
    const first = await startTestServer(config, root);
    const kid = await kidOf(first.url);
    const res = await fetch(`${first.url}/auth/token?service=registry.example&scope=repository:cvi/x:pull`, { headers: { Authorization: basic(fx.admin.username, fx.admin.password) } });
    const { token } = (await res.json()) as TokenResponse;
    assert.equal(decodeJwt(token).aud, "registry.example");
    await first.close();
    const second = await startTestServer(config, root);
    try {
      assert.equal(await kidOf(second.url), kid);
      const pull = await new AuthClient(second.url, `Bearer ${token}`).fetch("/v2/cvi/x/tags/list");
      assert.equal(pull.status, 404, "authorized; the repository just does not exist");
      assert.equal((await errorOf(pull)).code, "NAME_UNKNOWN");
    } finally {
      await second.dispose();
      rmSync(fx.dir, { recursive: true, force: true });
    }
  });
});
