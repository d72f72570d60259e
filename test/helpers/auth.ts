import { execFileSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { renameSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import bcrypt from "bcryptjs";
import { SignJWT } from "jose";
import type { AuthConfig } from "../../src/config/auth.js";
import type { Config } from "../../src/config/config.js";
import { TestClient, type TestRequestInit } from "./client.js";
import { startTestServer, tempDir, type TestServer } from "./server.js";

/** Credentials and keys of a cluster as DVCR has them: admin, node puller, controller JWT key, htpasswd. */
export interface AuthFixture {
  dir: string;
  admin: { username: string; password: string };
  puller: { username: string; password: string };
  htpasswdFile: string;
  /** The controller's ES256 key pair; public half in `jwtPublicKeyFile`. */
  controllerKey: KeyObject;
  jwtPublicKeyFile: string;
  /** The `auth` section for these files (Basic only; add `token` for the token service). */
  auth: AuthConfig;
}

export const JWT_ISSUER = "virtualization-controller";
export const JWT_AUDIENCE = "dvcr";
export const JWT_KID = "dvcr";

/** htpasswd line as `htpasswd -B` writes it; cost 4 keeps tests fast. */
export function htpasswdLine(user: string, password: string): string {
  return `${user}:${bcrypt.hashSync(password, 4).replace(/^\$2b\$/, "$2y$")}\n`;
}

export function createAuthFixture(htpasswdUsers: Record<string, string> = { alice: "alice-secret-1" }): AuthFixture {
  const dir = tempDir("dvcr-auth-");
  const admin = { username: "admin", password: "admin-Pa55-word" };
  const puller = { username: "node-puller", password: "puller-Pa55-word" };
  writeFileSync(path.join(dir, "admin-password"), `${admin.password}\n`);
  writeFileSync(path.join(dir, "puller-password"), puller.password);
  const htpasswdFile = path.join(dir, "htpasswd");
  writeFileSync(htpasswdFile, Object.entries(htpasswdUsers).map(([u, p]) => htpasswdLine(u, p)).join(""));
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const jwtPublicKeyFile = path.join(dir, "jwt.pub");
  writeFileSync(jwtPublicKeyFile, publicKey.export({ format: "pem", type: "spki" }));
  return {
    dir,
    admin,
    puller,
    htpasswdFile,
    controllerKey: privateKey,
    jwtPublicKeyFile,
    auth: {
      admin: { username: admin.username, passwordFile: path.join(dir, "admin-password") },
      puller: { username: puller.username, passwordFile: path.join(dir, "puller-password") },
      jwt: { issuer: JWT_ISSUER, audience: JWT_AUDIENCE, keyId: JWT_KID, publicKeyFile: jwtPublicKeyFile },
      htpasswd: { path: htpasswdFile },
      reloadIntervalMs: 50,
      // Tests make many failed attempts on purpose; the limiter has its own test.
      rateLimit: { burst: 1000, perMinute: 1000 },
    },
  };
}

export interface ControllerClaims {
  access?: unknown;
  sub?: string;
  iss?: string;
  aud?: string;
  kid?: string;
  /** Seconds from now; undefined leaves the claim out. */
  exp?: number | null;
  nbf?: number;
}

/** A token as the virtualization controller signs it (ES256, kid "dvcr", 5 minutes). */
export async function controllerToken(key: KeyObject, claims: ControllerClaims = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ access: claims.access ?? [] })
    .setProtectedHeader({ alg: "ES256", kid: claims.kid ?? JWT_KID, typ: "JWT" })
    .setIssuer(claims.iss ?? JWT_ISSUER)
    .setAudience(claims.aud ?? JWT_AUDIENCE)
    .setSubject(claims.sub ?? "importer-cvi-x")
    .setIssuedAt(now);
  if (claims.exp !== null) jwt.setExpirationTime(now + (claims.exp ?? 300));
  if (claims.nbf !== undefined) jwt.setNotBefore(now + claims.nbf);
  return jwt.sign(key);
}

export function repositoryAccess(name: string, ...actions: string[]) {
  return [{ type: "repository", name, actions }];
}

export function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

/** A TestClient that sends one Authorization header on every request (or none). */
export class AuthClient extends TestClient {
  constructor(
    base: string,
    readonly authorization?: string,
  ) {
    super(base);
  }

  override fetch(p: string, init: TestRequestInit = {}): Promise<Response> {
    if (!this.authorization) return super.fetch(p, init);
    const headers = new Headers(init.headers as HeadersInit | undefined);
    headers.set("Authorization", this.authorization);
    return super.fetch(p, { ...init, headers });
  }
}

/** The error codes and the first message of a spec error body. */
export async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  const body = (await res.json()) as { errors: { code: string; message: string }[] };
  return body.errors[0]!;
}

/** A request sent exactly as written (no URL normalisation), with an Authorization header. */
export function rawAuthRequest(base: string, method: string, requestPath: string, authorization?: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method, path: requestPath, headers: authorization ? { Authorization: authorization } : {} },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, body: text, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Poll `check` until it holds (file watchers poll too); fails after `timeoutMs`. */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Replace a file the way Secret and cert-manager updates do: write aside, rename over. */
export function replaceFile(file: string, content: string | Buffer): void {
  const tmp = `${file}.new`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

/** Run `body` against a server configured from a fresh fixture; both are removed afterwards. */
export async function withAuthServer(
  configure: (fx: AuthFixture) => Partial<Config>,
  body: (server: TestServer, fx: AuthFixture) => Promise<void>,
  htpasswdUsers?: Record<string, string>,
): Promise<void> {
  const fx = createAuthFixture(htpasswdUsers);
  try {
    const server = await startTestServer(configure(fx));
    try {
      await body(server, fx);
    } finally {
      await server.dispose();
    }
  } finally {
    rmSync(fx.dir, { recursive: true, force: true });
  }
}

/** A self-signed certificate for 127.0.0.1 made by the openssl CLI: `<dir>/<name>.crt` and `.key`. */
export function selfSignedCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${name}`, "-addext", "subjectAltName=IP:127.0.0.1",
  ], { stdio: "ignore" });
  return { cert, key };
}
