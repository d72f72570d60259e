import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_CONFIG, type Config } from "../../src/config/config.js";
import { createAuthFixture } from "../helpers/auth.js";
import { cviYaml, eventually, Kubectl, KUBECTL_CURRENT, kubectl120 } from "../helpers/kubectl.js";
import { cviConfig } from "../helpers/cvi.js";
import { startTestServer, tempDir } from "../helpers/server.js";

const UPLOAD = "    type: Upload\n";

/** Read a watch response's first `n` events (newline-delimited JSON), then stop reading. */
async function watchEvents(url: string, n: number, headers: Record<string, string> = {}): Promise<{ status: number; events: { type: string; object: any }[]; body?: any }> {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  if (res.status !== 200) return { status: res.status, events: [], body: await res.json() };
  const reader = res.body!.getReader();
  let text = "";
  const events: { type: string; object: any }[] = [];
  const timer = setTimeout(() => controller.abort(), 5000);
  try {
    while (events.length < n) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString("utf8");
      let i: number;
      while ((i = text.indexOf("\n")) >= 0 && events.length < n) {
        events.push(JSON.parse(text.slice(0, i)));
        text = text.slice(i + 1);
      }
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return { status: 200, events };
}

describe("ClusterVirtualImage objects persist and watches resume", () => {
  it("survives a restart with its uid and resourceVersion; a watch from before the restart replays what came after", async () => {
    const root = tempDir();
    let server = await startTestServer(cviConfig(), root);
    const k = new Kubectl(KUBECTL_CURRENT, server.url);
    await k.ok(["apply", "-f", "-"], { input: cviYaml("kept", UPLOAD, "  labels: {a: b}\n") });
    const before = JSON.parse(await k.ok(["get", "cvi", "kept", "-o", "json"]));
    await server.close();
    server = await startTestServer(cviConfig(), root);
    const k2 = new Kubectl(KUBECTL_CURRENT, server.url);
    try {
      const afterRestart = JSON.parse(await k2.ok(["get", "cvi", "kept", "-o", "json"]));
      assert.equal(afterRestart.metadata.uid, before.metadata.uid);
      assert.deepEqual(afterRestart.metadata.labels, { a: "b" });
      assert.equal(afterRestart.status.imageUploadURLs.external, before.status.imageUploadURLs.external, "WaitForUserUpload keeps its URL");
      await k2.ok(["label", "cvi", "kept", "c=d"]);
      const { events } = await watchEvents(
        `${server.url}/apis/virtualization.deckhouse.io/v1alpha2/clustervirtualimages?watch=true&resourceVersion=${before.metadata.resourceVersion}`,
        1,
      );
      assert.equal(events[0]!.type, "MODIFIED");
      assert.equal(events[0]!.object.metadata.labels.c, "d");
      assert.ok(Number(events[0]!.object.metadata.resourceVersion) > Number(before.metadata.resourceVersion));
    } finally {
      k.dispose();
      k2.dispose();
      await server.dispose();
    }
  });

  it("answers 410 Expired to a watch from a resourceVersion compacted out of the change log", async () => {
    const server = await startTestServer(cviConfig({ watchHistory: 10 }));
    const k = new Kubectl(KUBECTL_CURRENT, server.url);
    try {
      await k.ok(["apply", "-f", "-"], { input: cviYaml("busy", UPLOAD) });
      for (let i = 0; i < 12; i++) await k.ok(["label", "cvi", "busy", `n=${i}`, "--overwrite"]);
      const base = `${server.url}/apis/virtualization.deckhouse.io/v1alpha2/clustervirtualimages?watch=true`;
      const old = await watchEvents(`${base}&resourceVersion=1`, 1);
      assert.equal(old.status, 410);
      assert.equal(old.body.kind, "Status");
      assert.equal(old.body.reason, "Expired");
      assert.match(old.body.message, /too old resource version: 1/);
      const rv = Number(JSON.parse(await k.ok(["get", "cvi", "busy", "-o", "json"])).metadata.resourceVersion);
      const recent = await watchEvents(`${base}&resourceVersion=${rv - 2}`, 2);
      assert.deepEqual(recent.events.map((e) => e.object.metadata.labels.n), ["10", "11"]);
    } finally {
      k.dispose();
      await server.dispose();
    }
  });

  for (const [label, binaryOf] of [["1.30+", async () => KUBECTL_CURRENT], ["1.20", kubectl120]] as const) {
    it(`kubectl ${label} get -w prints the changes as Table rows and delete waits until the object is gone`, async () => {
      const server = await startTestServer(cviConfig());
      const k = new Kubectl(await binaryOf(), server.url);
      try {
        await k.ok(["apply", "-f", "-"], { input: cviYaml("watched", UPLOAD) });
        const watch = k.start(["get", "cvi", "watched", "-w"]);
        await eventually(async () => (/watched\s+WaitForUserUpload/.test(watch.output()) ? true : undefined), 10_000, "the first row");
        await k.ok(["delete", "cvi", "watched", "--timeout=30s"]);
        await eventually(async () => (/watched\s+Terminating/.test(watch.output()) ? true : undefined), 10_000, "the Terminating row");
        watch.child.kill("SIGTERM");
        await watch.exited;
        assert.match(watch.output().split("\n")[0]!, /^NAME\s+PHASE\s+CDROM\s+PROGRESS\s+AGE$/);
        assert.match((await k.run(["get", "cvi", "watched"])).stderr, /NotFound/);
      } finally {
        k.dispose();
        await server.dispose();
      }
    });
  }
});

describe("ClusterVirtualImage API with auth on", () => {
  // kubectl sends a bearer token only over TLS, so this server serves HTTPS.
  it("needs admin: kubectl --token with a token of dvcr's token service works; a bad token is Unauthorized, a puller's token Forbidden", async () => {
    const fx = createAuthFixture();
    const certFile = path.join(fx.dir, "tls.crt");
    const keyFile = path.join(fx.dir, "tls.key");
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN=dvcr", "-addext", "subjectAltName=IP:127.0.0.1",
    ], { stdio: "ignore" });
    const ca = readFileSync(certFile, "utf8");
    const server = await startTestServer({ ...cviConfig(), auth: { ...fx.auth, token: {} }, tls: { cert: certFile, key: keyFile } });
    const tokenFor = (user: { username: string; password: string }) =>
      new Promise<string>((resolve, reject) => {
        const auth = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString("base64")}`;
        https
          .get(`${server.url}/auth/token?service=dvcr&scope=registry:kubernetes:*`, { ca, headers: { Authorization: auth } }, (res) => {
            let body = "";
            res.on("data", (d: Buffer) => (body += d.toString()));
            res.on("end", () => (res.statusCode === 200 ? resolve((JSON.parse(body) as { token: string }).token) : reject(new Error(`token: ${res.statusCode} ${body}`))));
          })
          .on("error", reject);
      });
    const tls = ["--certificate-authority", certFile];
    // Without any credential kubectl prompts for a username over TLS; a token that is not one is refused as none.
    const anonymous = new Kubectl(KUBECTL_CURRENT, server.url, [...tls, "--token", "not-a-token"]);
    const admin = new Kubectl(KUBECTL_CURRENT, server.url, [...tls, "--token", await tokenFor(fx.admin)]);
    const admin120 = new Kubectl(await kubectl120(), server.url, [...tls, "--token", await tokenFor(fx.admin)]);
    const puller = new Kubectl(KUBECTL_CURRENT, server.url, [...tls, "--token", await tokenFor(fx.puller)]);
    try {
      const denied = await anonymous.run(["get", "cvi"]);
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /must be logged in|Unauthorized/);
      assert.match(await admin.ok(["apply", "-f", "-"], { input: cviYaml("secured", UPLOAD) }), /secured created/);
      assert.match(await admin120.ok(["get", "cvi"]), /^secured\s+WaitForUserUpload/m);
      const forbidden = await puller.run(["get", "cvi"]);
      assert.notEqual(forbidden.code, 0);
      assert.match(forbidden.stderr, /Forbidden/);
    } finally {
      for (const k of [anonymous, admin, admin120, puller]) k.dispose();
      await server.dispose();
    }
  });
});
