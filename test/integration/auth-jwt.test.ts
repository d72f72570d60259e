import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { SignJWT } from "jose";
import {
  AuthClient,
  basic,
  controllerToken,
  createAuthFixture,
  errorOf,
  JWT_AUDIENCE,
  JWT_ISSUER,
  JWT_KID,
  repositoryAccess,
  withAuthServer,
  type AuthFixture,
} from "../helpers/auth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function claimsNow(extra: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: JWT_ISSUER, aud: JWT_AUDIENCE, sub: "x", iat: now, exp: now + 300, access: repositoryAccess("cvi/x", "pull", "push", "delete"), ...extra };
}

describe("auth: controller JWTs are verified (signature, alg, kid, iss, aud, exp/nbf with 60 s leeway)", () => {
  let fx: AuthFixture;
  let server: TestServer;

  before(async () => {
    fx = createAuthFixture();
    server = await startTestServer({ auth: fx.auth });
    const admin = new AuthClient(server.url, basic(fx.admin.username, fx.admin.password));
    await admin.pushImage("cvi/x", "latest");
  });
  after(async () => {
    await server.dispose();
    rmSync(fx.dir, { recursive: true, force: true });
  });

  /** Send the token both ways DVCR clients do: as the Basic password, and as a Bearer token. */
  async function expectRejected(token: string, message: RegExp): Promise<void> {
    for (const authorization of [basic("importer", token), `Bearer ${token}`]) {
      const res = await new AuthClient(server.url, authorization).fetch("/v2/cvi/x/manifests/latest");
      assert.equal(res.status, 401, `${authorization.slice(0, 6)}: ${res.status}`);
      const error = await errorOf(res);
      assert.equal(error.code, "UNAUTHORIZED");
      assert.match(error.message, message);
      const challenge = res.headers.get("www-authenticate") ?? "";
      assert.match(challenge, /^Basic realm="dvcr"/);
      if (authorization.startsWith("Bearer")) assert.match(challenge, /error="invalid_token"/);
    }
  }

  async function expectAccepted(token: string): Promise<void> {
    for (const authorization of [basic("importer", token), `Bearer ${token}`]) {
      const res = await new AuthClient(server.url, authorization).fetch("/v2/cvi/x/manifests/latest");
      assert.equal(res.status, 200, `${authorization.slice(0, 6)}: ${await res.text()}`);
    }
  }

  test("a valid token is accepted", async () => {
    await expectAccepted(await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/x", "pull") }));
  });

  test("expired beyond the leeway: rejected; within 60 s: accepted", async () => {
    await expectRejected(await controllerToken(fx.controllerKey, { exp: -120, access: repositoryAccess("cvi/x", "pull") }), /token has expired/);
    await expectAccepted(await controllerToken(fx.controllerKey, { exp: -30, access: repositoryAccess("cvi/x", "pull") }));
  });

  test("not yet valid beyond the leeway: rejected; within 60 s: accepted", async () => {
    await expectRejected(await controllerToken(fx.controllerKey, { nbf: 300, exp: 600, access: repositoryAccess("cvi/x", "pull") }), /not valid yet/);
    await expectAccepted(await controllerToken(fx.controllerKey, { nbf: 30, access: repositoryAccess("cvi/x", "pull") }));
  });

  test("wrong issuer, wrong audience, wrong or missing kid, no exp", async () => {
    await expectRejected(await controllerToken(fx.controllerKey, { iss: "someone-else" }), /issuer is not trusted/);
    await expectRejected(await controllerToken(fx.controllerKey, { aud: "another-registry" }), /audience is not this registry/);
    await expectRejected(await controllerToken(fx.controllerKey, { kid: "not-dvcr" }), /key id \(kid\) is not trusted/);
    const noKid = await new SignJWT(claimsNow()).setProtectedHeader({ alg: "ES256" }).sign(fx.controllerKey);
    await expectRejected(noKid, /key id \(kid\) is not trusted/);
    await expectRejected(await controllerToken(fx.controllerKey, { exp: null }), /no expiry/);
  });

  test("alg none is rejected", async () => {
    const unsigned = `${b64({ alg: "none", kid: JWT_KID, typ: "JWT" })}.${b64(claimsNow())}.`;
    await expectRejected(unsigned, /algorithm none is not accepted \(ES256 required\)/);
  });

  test("HS256 signed with the public key as the HMAC secret is rejected (algorithm confusion)", async () => {
    const publicPem = readFileSync(fx.jwtPublicKeyFile);
    const signingInput = `${b64({ alg: "HS256", kid: JWT_KID, typ: "JWT" })}.${b64(claimsNow())}`;
    const forged = `${signingInput}.${createHmac("sha256", publicPem).update(signingInput).digest("base64url")}`;
    await expectRejected(forged, /algorithm HS256 is not accepted/);
  });

  test("a token signed by another key, or altered after signing, is rejected", async () => {
    const { privateKey: stranger } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    await expectRejected(await controllerToken(stranger), /signature is invalid/);
    const genuine = await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/x", "pull") });
    const [header, , signature] = genuine.split(".");
    const escalated = `${header}.${b64(claimsNow({ access: repositoryAccess("cvi/x", "*") }))}.${signature}`;
    await expectRejected(escalated, /signature is invalid/);
  });

  test("malformed tokens and access claims are rejected", async () => {
    await expectRejected(await controllerToken(fx.controllerKey, { access: { type: "repository" } }), /access claim is malformed/);
    await expectRejected(await controllerToken(fx.controllerKey, { access: [{ type: "repository", name: "cvi/x", actions: "pull" }] }), /access claim is malformed/);
    await expectRejected(`${b64({ alg: "ES256", kid: JWT_KID })}.bm90LWpzb24.c2ln`, /token is malformed|signature is invalid/);
    const res = await new AuthClient(server.url, "Bearer not-a-jwt").fetch("/v2/cvi/x/manifests/latest");
    assert.equal(res.status, 401);
    assert.match((await errorOf(res)).message, /not a JWT/);
  });
});

describe("auth: RS256 and EdDSA controller keys", () => {
  for (const kind of ["rsa", "ed25519"] as const) {
    test(`${kind} public key verifies its tokens and refuses ES256 ones`, async () => {
      const pair = kind === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ed25519");
      const configure = (fx: AuthFixture) => {
        const keyFile = path.join(fx.dir, `${kind}.pub`);
        writeFileSync(keyFile, pair.publicKey.export({ format: "pem", type: "spki" }));
        return { auth: { ...fx.auth, jwt: { issuer: JWT_ISSUER, audience: JWT_AUDIENCE, keyId: JWT_KID, publicKeyFile: keyFile } } };
      };
      await withAuthServer(configure, async (server, fx) => {
        const alg = kind === "rsa" ? "RS256" : "EdDSA";
        const token = await new SignJWT(claimsNow()).setProtectedHeader({ alg, kid: JWT_KID }).sign(pair.privateKey);
        const ok = await new AuthClient(server.url, basic("importer", token)).fetch("/v2/cvi/x/blobs/uploads/", { method: "POST" });
        assert.equal(ok.status, 202);
        const es256 = await controllerToken(fx.controllerKey);
        const refused = await new AuthClient(server.url, basic("importer", es256)).fetch("/v2/");
        assert.equal(refused.status, 401);
        assert.match((await errorOf(refused)).message, new RegExp(`algorithm ES256 is not accepted \\(${alg} required\\)`));
      });
    });
  }
});
