import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { describe, test } from "node:test";
import {
  AuthClient,
  basic,
  controllerToken,
  createAuthFixture,
  withAuthServer,
  errorOf,
  eventually,
  htpasswdLine,
  replaceFile,
  repositoryAccess,
  selfSignedCertificate,
} from "../helpers/auth.js";
import { CLI, startTestServer, tempDir } from "../helpers/server.js";

async function status(url: string, authorization: string, p = "/v2/"): Promise<number> {
  const res = await new AuthClient(url, authorization).fetch(p);
  await res.arrayBuffer();
  return res.status;
}

describe("auth: credential files are reloaded when they change (no restart)", () => {
  test("htpasswd: new users appear, changed passwords take effect, removed users are refused", async () => {
    await withAuthServer((fx) => ({ auth: fx.auth }), async (server, fx) => {
      assert.equal(await status(server.url, basic("alice", "alice-1")), 200);
      assert.equal(await status(server.url, basic("bob", "bob-1")), 401);
      replaceFile(fx.htpasswdFile, htpasswdLine("alice", "alice-2") + htpasswdLine("bob", "bob-1"));
      await eventually("bob may log in", async () => (await status(server.url, basic("bob", "bob-1"))) === 200);
      assert.equal(await status(server.url, basic("alice", "alice-1")), 401, "old password (even though it was cached)");
      assert.equal(await status(server.url, basic("alice", "alice-2")), 200);
      assert.equal(await status(server.url, basic("carol", "carol-1")), 401, "removed user");
      // Rewritten in place (same inode), as an editor or `htpasswd -B file user` does.
      writeFileSync(fx.htpasswdFile, htpasswdLine("bob", "bob-2"));
      await eventually("bob's new password works", async () => (await status(server.url, basic("bob", "bob-2"))) === 200);
    }, { alice: "alice-1", carol: "carol-1" });
  });

  test("admin password file rotates; a file that disappears keeps the last good password", async () => {
    await withAuthServer((fx) => ({ auth: fx.auth }), async (server, fx) => {
      const passwordFile = fx.auth.admin!.passwordFile;
      replaceFile(passwordFile, "rotated-Admin-pw\n");
      await eventually("the rotated password works", async () => (await status(server.url, basic("admin", "rotated-Admin-pw"))) === 200);
      assert.equal(await status(server.url, basic("admin", fx.admin.password)), 401);
      unlinkSync(passwordFile);
      // Give the watcher many intervals to notice; the password must stay in force.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await status(server.url, basic("admin", "rotated-Admin-pw")), 200);
    });
  });

  test("the controller's public key rotates: new tokens verify, old ones stop", async () => {
    await withAuthServer((fx) => ({ auth: fx.auth }), async (server, fx) => {
      const oldToken = await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/x", "pull") });
      assert.equal(await status(server.url, basic("i", oldToken)), 200);
      const next = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
      replaceFile(fx.jwtPublicKeyFile, next.publicKey.export({ format: "pem", type: "spki" }) as string);
      const newToken = await controllerToken(next.privateKey, { access: repositoryAccess("cvi/x", "pull") });
      await eventually("the new key verifies", async () => (await status(server.url, basic("i", newToken))) === 200);
      const res = await new AuthClient(server.url, basic("i", oldToken)).fetch("/v2/");
      assert.equal(res.status, 401);
      assert.match((await errorOf(res)).message, /signature is invalid/);
    });
  });
});

function selfSigned(dir: string, name: string): { cert: string; key: string; fingerprint: string } {
  const files = selfSignedCertificate(dir, name);
  return { cert: readFileSync(files.cert, "utf8"), key: readFileSync(files.key, "utf8"), fingerprint: new X509Certificate(readFileSync(files.cert)).fingerprint256 };
}

/** GET over a fresh TLS connection trusting `ca`; returns the status and the certificate served. */
function httpsGet(url: string, ca: string[], authorization?: string, p = "/v2/"): Promise<{ status: number; fingerprint: string; challenge?: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}${p}`, { ca, agent: false, headers: authorization ? { Authorization: authorization } : {} }, (res) => {
      const fingerprint = (res.socket as import("node:tls").TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode!, fingerprint, challenge: res.headers["www-authenticate"] }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("TLS: HTTPS with the certificate pair reloaded when it changes", () => {
  test("serves HTTPS, swaps in a rotated pair, keeps the old one when the new pair does not match", async () => {
    const fx = createAuthFixture();
    const first = selfSigned(fx.dir, "first");
    const second = selfSigned(fx.dir, "second");
    const third = selfSigned(fx.dir, "third");
    const certFile = path.join(fx.dir, "tls.crt");
    const keyFile = path.join(fx.dir, "tls.key");
    replaceFile(certFile, first.cert);
    replaceFile(keyFile, first.key);
    const server = await startTestServer({ auth: { ...fx.auth, token: {} }, tls: { cert: certFile, key: keyFile, reloadIntervalMs: 50 } });
    const ca = [first.cert, second.cert, third.cert];
    const admin = basic(fx.admin.username, fx.admin.password);
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const served = await httpsGet(server.url, ca, admin);
      assert.equal(served.status, 200);
      assert.equal(served.fingerprint, first.fingerprint);
      // The token realm follows the scheme the client used.
      const challenge = await httpsGet(server.url, ca);
      assert.equal(challenge.status, 401);
      assert.match(challenge.challenge ?? "", new RegExp(`^Bearer realm="${server.url}/auth/token"`));

      // cert-manager writes the key, then the certificate.
      replaceFile(keyFile, second.key);
      replaceFile(certFile, second.cert);
      await eventually("the rotated certificate is served", async () => (await httpsGet(server.url, ca, admin)).fingerprint === second.fingerprint);

      // A certificate whose key is not there: refused, the second pair stays.
      replaceFile(certFile, third.cert);
      await new Promise((r) => setTimeout(r, 500));
      const still = await httpsGet(server.url, ca, admin);
      assert.equal(still.fingerprint, second.fingerprint);
      assert.equal(still.status, 200);
      replaceFile(keyFile, third.key);
      await eventually("the completed pair is served", async () => (await httpsGet(server.url, ca, admin)).fingerprint === third.fingerprint);
    } finally {
      await server.dispose();
      rmSync(fx.dir, { recursive: true, force: true });
    }
  });

  test("dvcr serve --tls-cert/--tls-key serves HTTPS", async () => {
    const dir = tempDir("dvcr-tls-cli-");
    const pair = selfSigned(dir, "cli");
    const certFile = path.join(dir, "tls.crt");
    const keyFile = path.join(dir, "tls.key");
    replaceFile(certFile, pair.cert);
    replaceFile(keyFile, pair.key);
    const child = spawn(process.execPath, [CLI, "serve", "--listen", "127.0.0.1:0", "--root", path.join(dir, "root"), "--tls-cert", certFile, "--tls-key", keyFile], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let output = "";
      child.stdout.on("data", (d: Buffer) => (output += d.toString()));
      await eventually("dvcr listens", async () => /"url":"https:\/\/127\.0\.0\.1:\d+"/.test(output));
      const url = /"url":"(https:\/\/[^"]+)"/.exec(output)![1]!;
      const res = await httpsGet(url, [pair.cert]);
      assert.equal(res.status, 200, "no auth section: open");
      assert.equal(res.fingerprint, pair.fingerprint);
      assert.match(output, /no auth section in the configuration/);
    } finally {
      child.kill("SIGTERM");
      await once(child, "exit");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a missing certificate stops the start with a clear error", async () => {
    await assert.rejects(startTestServer({ tls: { cert: "/nonexistent/tls.crt", key: "/nonexistent/tls.key" } }), /tls: cannot load \/nonexistent\/tls.crt/);
  });
});
