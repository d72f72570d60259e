import assert from "node:assert/strict";
import { describe, test } from "node:test";
import bcrypt from "bcryptjs";
import { Authenticator, type StaticAccount } from "../../src/auth/authenticator.js";
import { parseAuthorization } from "../../src/auth/credentials.js";
import { compileRepositoryGlob } from "../../src/auth/glob.js";
import { HtpasswdVerifier, parseHtpasswd } from "../../src/auth/htpasswd.js";
import { allows, claimRules, everything, globRules, grantable, missingAccess, pullEverywhere, wasRequested, type Subject } from "../../src/auth/policy.js";
import { FailureLimiter } from "../../src/auth/rate-limiter.js";
import { formatScope, mergeAccess, parseScope } from "../../src/auth/scope.js";
import { sameSecret } from "../../src/auth/secrets.js";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { htpasswdLine } from "../helpers/auth.js";

describe("scopes", () => {
  test("parse and format distribution's scope strings", () => {
    assert.deepEqual(parseScope("repository:cvi/x:pull,push"), { type: "repository", name: "cvi/x", actions: ["pull", "push"] });
    assert.deepEqual(parseScope("registry:catalog:*"), { type: "registry", name: "catalog", actions: ["*"] });
    // A name with a host and port keeps its colon.
    assert.deepEqual(parseScope("repository:host:5000/x:pull"), { type: "repository", name: "host:5000/x", actions: ["pull"] });
    assert.deepEqual(parseScope("repository:cvi/x:pull,pull,"), { type: "repository", name: "cvi/x", actions: ["pull"] });
    for (const bad of ["repository", "repository:cvi/x", ":cvi/x:pull", "repository::pull", "repository:cvi/x:"]) assert.equal(parseScope(bad), undefined, bad);
    assert.equal(formatScope({ type: "repository", name: "vi/ns/a", actions: ["pull", "push"] }), "repository:vi/ns/a:pull,push");
    assert.deepEqual(
      mergeAccess([parseScope("repository:a:pull")!, parseScope("repository:a:push")!, parseScope("repository:b:pull")!]),
      [
        { type: "repository", name: "a", actions: ["pull", "push"] },
        { type: "repository", name: "b", actions: ["pull"] },
      ],
    );
  });
});

describe("repository globs", () => {
  test("* stays within a component, ** crosses components, the rest is literal", () => {
    const cvi = compileRepositoryGlob("cvi/*");
    assert.ok(cvi.test("cvi/x"));
    assert.ok(!cvi.test("cvi/x/y"));
    assert.ok(!cvi.test("cvix"));
    const vi = compileRepositoryGlob("vi/**");
    assert.ok(vi.test("vi/ns/a"));
    assert.ok(!vi.test("vd/ns/a"));
    const dot = compileRepositoryGlob("a.b");
    assert.ok(dot.test("a.b"));
    assert.ok(!dot.test("axb"), "a dot is not a regex wildcard");
    assert.ok(compileRepositoryGlob("**").test("any/thing/at/all"));
  });
});

describe("policy", () => {
  const subject = (rules: Subject["rules"], extra: Partial<Subject> = {}): Subject => ({ kind: "jwt", name: "t", rules, ...extra });

  test("admin may do everything, the puller only pull, claims exactly what they name", () => {
    const admin = subject(everything());
    assert.ok(allows(admin, "repository", "cvi/x", "delete"));
    assert.ok(allows(admin, "registry", "catalog", "*"));
    const puller = subject(pullEverywhere());
    assert.ok(allows(puller, "repository", "vi/ns/a", "pull"));
    assert.ok(!allows(puller, "repository", "vi/ns/a", "push"));
    assert.ok(!allows(puller, "registry", "catalog", "*"));
    const claim = subject(claimRules([{ type: "repository", name: "cvi/*", actions: ["*"] }]));
    assert.ok(allows(claim, "repository", "cvi/*", "push"));
    assert.ok(!allows(claim, "repository", "cvi/x", "pull"), "a * in a claimed name is literal");
  });

  test("missingAccess, grantable and wasRequested", () => {
    const s = subject(globRules({ "cvi/*": ["pull"], "vi/**": ["pull", "push"] }));
    const needed = [
      { type: "repository", name: "cvi/x", actions: ["pull", "push"] },
      { type: "repository", name: "vi/a/b", actions: ["pull", "push"] },
    ];
    assert.deepEqual(missingAccess(s, needed), [{ type: "repository", name: "cvi/x", actions: ["push"] }]);
    assert.deepEqual(grantable(s, needed), [
      { type: "repository", name: "cvi/x", actions: ["pull"] },
      { type: "repository", name: "vi/a/b", actions: ["pull", "push"] },
    ]);
    const token = subject([], { kind: "token", requested: [{ type: "repository", name: "cvi/x", actions: ["pull", "push"] }] });
    assert.ok(wasRequested(token, { type: "repository", name: "cvi/x", actions: ["push"] }));
    assert.ok(!wasRequested(token, { type: "repository", name: "cvi/x", actions: ["delete"] }));
    assert.ok(!wasRequested(token, { type: "repository", name: "cvi/y", actions: ["pull"] }));
  });
});

describe("failure limiter", () => {
  test("a burst per client, refilled over time, clients independent, memory bounded", () => {
    let now = 0;
    const limiter = new FailureLimiter(3, 6, 2, () => now); // 6 per minute: one every 10 s
    for (let i = 0; i < 3; i++) {
      assert.equal(limiter.retryAfter("a"), 0);
      limiter.recordFailure("a");
    }
    assert.equal(limiter.retryAfter("a"), 10);
    assert.equal(limiter.retryAfter("b"), 0, "another address is not affected");
    now += 4_000;
    assert.equal(limiter.retryAfter("a"), 6);
    now += 6_000;
    assert.equal(limiter.retryAfter("a"), 0);
    limiter.recordFailure("a");
    assert.ok(limiter.retryAfter("a") > 0);
    // Bounded: a third address evicts the least recently failed one.
    limiter.recordFailure("b");
    limiter.recordFailure("c");
    assert.equal(limiter.retryAfter("a"), 0, "forgotten");
  });
});

describe("credentials", () => {
  test("Authorization header parsing", () => {
    const b = (s: string) => `Basic ${Buffer.from(s).toString("base64")}`;
    assert.deepEqual(parseAuthorization(undefined), { scheme: "none" });
    assert.deepEqual(parseAuthorization(b("user:pa:ss")), { scheme: "basic", username: "user", password: "pa:ss" });
    assert.deepEqual(parseAuthorization(`bearer abc.def.ghi`), { scheme: "bearer", token: "abc.def.ghi" });
    assert.equal(parseAuthorization(b(":nouser")).scheme, "invalid");
    assert.equal(parseAuthorization(b("nocolon")).scheme, "invalid");
    assert.equal(parseAuthorization("Basic a b").scheme, "invalid");
    assert.equal(parseAuthorization("Basic ###").scheme, "invalid");
    assert.equal(parseAuthorization("Negotiate abc").scheme, "invalid");
  });

  test("sameSecret compares any lengths and only equal strings match", () => {
    assert.ok(sameSecret("s3cret", "s3cret"));
    assert.ok(!sameSecret("s3cret", "s3cre"));
    assert.ok(!sameSecret("", "x"));
    assert.ok(!sameSecret("a".repeat(10_000), "a".repeat(9_999) + "b"));
    assert.ok(sameSecret("пароль", "пароль"));
  });

  test("htpasswd: bcrypt entries only; unknown users and wrong passwords fail", async () => {
    const file = `# comment\n${htpasswdLine("alice", "a1")}bob:{SHA}fEqNCco3Yq9h5ZUglD3CZJT4lBs=\ncarol:$apr1$abc$def\nmalformed\n${htpasswdLine("dave", "d1")}`;
    const entries = parseHtpasswd([Buffer.from(file)]);
    assert.deepEqual([...entries.users.keys()], ["alice", "dave"]);
    assert.equal(entries.skipped, 3);
    const verifier = new HtpasswdVerifier(() => entries);
    assert.ok(await verifier.verify("alice", "a1"));
    assert.ok(await verifier.verify("alice", "a1"), "cached success");
    assert.ok(!(await verifier.verify("alice", "a2")));
    assert.ok(!(await verifier.verify("bob", "anything")));
    assert.ok(!(await verifier.verify("nobody", "a1")));
  });

  test("a wrong password for the admin or puller costs what one for an unknown user costs (one bcrypt each)", async () => {
    const account = (username: string, password: string) => ({ username, password: { value: password } }) as unknown as StaticAccount;
    const statics = { admin: account("admin", "admin-secret"), puller: account("node-puller", "puller-secret"), anonymousPull: false };
    const file = Buffer.from(`alice:${bcrypt.hashSync("alice-secret", 8)}\n`);
    const entries = parseHtpasswd([file]);
    const setups: [string, Authenticator][] = [
      ["with htpasswd (cost 8)", new Authenticator({ ...statics, htpasswd: { verifier: new HtpasswdVerifier(() => entries), rules: everything() } })],
      ["without htpasswd", new Authenticator(statics)],
    ];
    const median = async (auth: Authenticator, username: string) => {
      const times: number[] = [];
      for (let i = 0; i < 7; i++) {
        const started = process.hrtime.bigint();
        const outcome = await auth.authenticate({ scheme: "basic", username, password: `wrong-${i}` });
        times.push(Number(process.hrtime.bigint() - started) / 1e6);
        assert.equal(outcome.result, "failed");
      }
      return times.sort((a, b) => a - b)[3]!;
    };
    for (const [what, auth] of setups) {
      await median(auth, "warm-up");
      const unknown = await median(auth, "nobody");
      for (const name of ["admin", "node-puller", "alice"].filter((n) => n !== "alice" || what.startsWith("with "))) {
        const known = await median(auth, name);
        // One bcrypt is milliseconds; a bare compare is microseconds: half is far from either.
        assert.ok(known >= unknown / 2 && known <= unknown * 2, `${what}: ${name} failed in ${known.toFixed(2)} ms, an unknown user in ${unknown.toFixed(2)} ms`);
      }
    }
  });
});

describe("auth configuration", () => {
  test("no auth section by default (the open embedded registry), nothing invented by empty env", () => {
    const config = loadConfig({}, { DVCR_AUTH_ADMIN_USERNAME: "", DVCR_TLS_CERT: "" });
    assert.equal(config.auth, undefined);
    assert.equal(config.tls, undefined);
  });

  test("env variables and flags fill the sections", () => {
    const config = loadConfig(
      { tlsCert: "/tls/crt", tlsKey: "/tls/key" },
      {
        DVCR_AUTH_ADMIN_USERNAME: "admin",
        DVCR_AUTH_ADMIN_PASSWORD_FILE: "/s/admin",
        DVCR_AUTH_PULLER_USERNAME: "node",
        DVCR_AUTH_PULLER_PASSWORD_FILE: "/s/node",
        DVCR_AUTH_JWT_ISSUER: "virtualization-controller",
        DVCR_AUTH_JWT_AUDIENCE: "dvcr",
        DVCR_AUTH_JWT_KEY_ID: "dvcr",
        DVCR_AUTH_JWT_PUBLIC_KEY_FILE: "/s/jwt.pub",
        DVCR_AUTH_HTPASSWD_PATH: "/s/htpasswd",
        DVCR_AUTH_ANONYMOUS_PULL: "true",
        DVCR_AUTH_TOKEN_ENABLED: "true",
        DVCR_AUTH_TOKEN_REALM: "https://dvcr.example/auth/token",
      },
    );
    assert.deepEqual(config.auth, {
      admin: { username: "admin", passwordFile: "/s/admin" },
      puller: { username: "node", passwordFile: "/s/node" },
      jwt: { issuer: "virtualization-controller", audience: "dvcr", keyId: "dvcr", publicKeyFile: "/s/jwt.pub" },
      htpasswd: { path: "/s/htpasswd" },
      anonymousPull: true,
      token: { enabled: true, realm: "https://dvcr.example/auth/token" },
    });
    assert.deepEqual(config.tls, { cert: "/tls/crt", key: "/tls/key" });
  });

  test("incomplete or invalid sections are refused with the key named", () => {
    assert.throws(() => loadConfig({ tlsCert: "/only/cert" }, {}), (err: Error) => err instanceof ConfigError && /tls\.key/.test(err.message));
    assert.throws(() => loadConfig({}, { DVCR_AUTH_ADMIN_USERNAME: "admin" }), /auth\.admin\.passwordFile/);
    assert.throws(() => loadConfig({}, { DVCR_AUTH_ANONYMOUS_PULL: "maybe" }), /auth\.anonymousPull/);
    assert.throws(() => loadConfig({}, { DVCR_AUTH_ADMIN_USERNAME: "a:b", DVCR_AUTH_ADMIN_PASSWORD_FILE: "/x" }), /must not contain ':'/);
    assert.throws(() => loadConfig({}, { DVCR_AUTH_TOKEN_REALM: "not a url" }), /auth\.token\.realm/);
  });
});
