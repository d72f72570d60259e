import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import { DEFAULT_CONFIG, type Config } from "../../src/config/config.js";
import { createLogger } from "../../src/http/logger.js";
import { startServer } from "../../src/http/server.js";
import { authFailures } from "../../src/metrics/auth.js";
import { metricsRegistry } from "../../src/metrics/registry.js";
import { AuthClient, basic, controllerToken, createAuthFixture, errorOf, repositoryAccess, withAuthServer } from "../helpers/auth.js";
import { tempDir } from "../helpers/server.js";

async function failures(reason: string): Promise<number> {
  const metric = await authFailures.get();
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe("auth: failed authentications are rate-limited per client address and counted", () => {
  test("after the burst, credentials get 429 TOOMANYREQUESTS without being checked", async () => {
    await withAuthServer(
      (fx) => ({ auth: { ...fx.auth, rateLimit: { burst: 3, perMinute: 1 } } }),
      async (server, fx) => {
        const wrong = new AuthClient(server.url, basic(fx.admin.username, "guess"));
        const right = new AuthClient(server.url, basic(fx.admin.username, fx.admin.password));
        const badBefore = await failures("bad_credentials");
        const limitedBefore = await failures("rate_limited");
        assert.equal((await right.fetch("/v2/")).status, 200, "successes do not count");
        for (let i = 0; i < 3; i++) {
          const res = await wrong.fetch("/v2/");
          assert.equal(res.status, 401, `attempt ${i + 1}`);
          await res.arrayBuffer();
        }
        for (const client of [wrong, right]) {
          const res = await client.fetch("/v2/cvi/x/manifests/latest");
          assert.equal(res.status, 429);
          assert.equal((await errorOf(res)).code, "TOOMANYREQUESTS");
          const retryAfter = Number(res.headers.get("retry-after"));
          assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
        }
        // Without credentials there is nothing to guess: the usual challenge.
        const anonymous = await new AuthClient(server.url).fetch("/v2/");
        assert.equal(anonymous.status, 401);
        assert.equal(await failures("bad_credentials"), badBefore + 3);
        assert.equal(await failures("rate_limited"), limitedBefore + 2);
        const exposition = await metricsRegistry.metrics();
        assert.match(exposition, /dvcr_auth_failures_total\{reason="rate_limited"\} \d+/);
      },
    );
  });

  test("the token endpoint shares the limit", async () => {
    await withAuthServer(
      (fx) => ({ auth: { ...fx.auth, token: {}, rateLimit: { burst: 2, perMinute: 1 } } }),
      async (server, fx) => {
        const url = `${server.url}/auth/token?service=dvcr&scope=repository:cvi/x:pull`;
        for (let i = 0; i < 2; i++) assert.equal((await fetch(url, { headers: { Authorization: basic("nobody", "x") } })).status, 401);
        const limited = await fetch(url, { headers: { Authorization: basic(fx.admin.username, fx.admin.password) } });
        assert.equal(limited.status, 429);
        assert.equal((await errorOf(limited)).code, "TOOMANYREQUESTS");
      },
    );
  });

  test("denials and invalid tokens are counted by reason", async () => {
    await withAuthServer(
      (fx) => ({ auth: fx.auth }),
      async (server, fx) => {
        const denied = await failures("denied");
        const invalid = await failures("invalid_token");
        const malformed = await failures("malformed");
        const puller = new AuthClient(server.url, basic(fx.puller.username, fx.puller.password));
        assert.equal((await puller.fetch("/v2/cvi/x/blobs/uploads/", { method: "POST" })).status, 403);
        assert.equal((await new AuthClient(server.url, basic("t", await controllerToken(fx.controllerKey, { exp: -600 }))).fetch("/v2/")).status, 401);
        assert.equal((await new AuthClient(server.url, "Basic %%%").fetch("/v2/")).status, 401);
        assert.equal(await failures("denied"), denied + 1);
        assert.equal(await failures("invalid_token"), invalid + 1);
        assert.equal(await failures("malformed"), malformed + 1);
      },
    );
  });
});

describe("auth: no credential is ever written to the log", () => {
  test("passwords, JWTs, tokens and Basic headers never appear, at trace level", async () => {
    const fx = createAuthFixture({ alice: "alice-htpasswd-Secret" });
    let logged = "";
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logged += chunk.toString();
        done();
      },
    });
    const root = tempDir();
    const config: Config = { ...DEFAULT_CONFIG, listen: "127.0.0.1:0", root, log: { level: "trace" }, auth: { ...fx.auth, token: {} } };
    const server = await startServer(config, createLogger("trace", sink));
    const jwt = await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/x", "pull", "push") });
    const expiredJwt = await controllerToken(fx.controllerKey, { exp: -600 });
    const secrets = [fx.admin.password, fx.puller.password, "alice-htpasswd-Secret", jwt, expiredJwt, "wrong-Guess-123"];
    try {
      const headers = [
        basic(fx.admin.username, fx.admin.password),
        basic(fx.puller.username, fx.puller.password),
        basic("alice", "alice-htpasswd-Secret"),
        basic("importer", jwt),
        `Bearer ${jwt}`,
        basic("importer", expiredJwt),
        `Bearer ${expiredJwt}`,
        basic(fx.admin.username, "wrong-Guess-123"),
        basic("wrong-Guess-123", "wrong-Guess-123"),
      ];
      for (const authorization of headers) {
        const client = new AuthClient(server.url, authorization);
        for (const path of ["/v2/", "/v2/cvi/x/blobs/uploads/", "/auth/token?service=dvcr&scope=repository:cvi/x:pull,push"]) {
          const res = await client.fetch(path, { method: path.includes("uploads") ? "POST" : "GET" });
          const body = await res.text();
          if (path.startsWith("/auth/token") && res.status === 200) secrets.push((JSON.parse(body) as { token: string }).token);
        }
      }
      for (const token of secrets.filter((s) => s.split(".").length === 3 && s.length > 100)) {
        await new AuthClient(server.url, `Bearer ${token}`).fetch("/v2/cvi/x/manifests/latest");
      }
    } finally {
      await server.close();
      rmSync(root, { recursive: true, force: true });
      rmSync(fx.dir, { recursive: true, force: true });
    }
    assert.match(logged, /authentication failed/, "failures are logged");
    assert.match(logged, /"reason":"invalid_token"/);
    assert.ok(secrets.length > 6, "tokens were issued");
    for (const secret of secrets) {
      assert.ok(!logged.includes(secret), `a secret appeared in the log: ${secret.slice(0, 6)}…`);
      assert.ok(!logged.includes(Buffer.from(secret).toString("base64").slice(0, 16)), "a Basic encoding appeared in the log");
      // A JWT's signature alone is enough to replay it.
      const signature = secret.split(".")[2];
      if (signature) assert.ok(!logged.includes(signature), "a token signature appeared in the log");
    }
  });
});
