import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { startFileServer, type FileServer } from "../helpers/file-server.js";
import { cviYaml, eventually, Kubectl, KUBECTL_CURRENT, kubectl120 } from "../helpers/kubectl.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";
import { startSlowSource } from "../helpers/slow-source.js";
import { curl, cviConfig, phaseOf, readyCondition, untilPhase } from "../helpers/cvi.js";

describe("ClusterVirtualImage lifecycle with the real kubectl", () => {
  let server: TestServer;
  let files: FileServer;
  let dir: string;
  let k: Kubectl;
  const httpSource = (url: string, extra = "") => `    type: HTTP\n    http:\n      url: ${url}\n${extra}`;

  before(async () => {
    dir = tempDir("dvcr-cvi-files-");
    writeFileSync(path.join(dir, "small.img"), Buffer.alloc(2 << 20, 1));
    writeFileSync(path.join(dir, "corrupt.img.xz"), Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(4096, 0x42)]));
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", path.join(dir, "disk.qcow2"), "1G"]);
    writeFileSync(path.join(dir, "upload.img"), Buffer.alloc(8 << 20, 3));
    files = await startFileServer(dir);
    server = await startTestServer(cviConfig({ uploadTimeout: 60_000 }));
    k = new Kubectl(KUBECTL_CURRENT, server.url);
  });
  after(async () => {
    k.dispose();
    await server.dispose();
    await files.close();
  });

  for (const [label, binaryOf] of [["1.30+", async () => KUBECTL_CURRENT], ["1.20", kubectl120]] as const) {
    it(`kubectl ${label}: apply, get -w shows Provisioning with rising percentages and ends Ready false 100%`, async () => {
      const source = await startSlowSource(12 << 20, 6 << 20);
      const kc = new Kubectl(await binaryOf(), server.url);
      const name = `watched-${label.replace(/\W/g, "")}`;
      try {
        await kc.ok(["apply", "-f", "-"], { input: cviYaml(name, httpSource(source.url)) });
        const watch = kc.start(["get", "cvi", name, "-w"]);
        await eventually(async () => (new RegExp(`${name}\\s+Ready\\s+false\\s+100%`).test(watch.output()) ? true : undefined), 30_000, "the Ready row");
        watch.child.kill("SIGTERM");
        await watch.exited;
        const rows = watch.output().split("\n").filter((l) => l.startsWith(name));
        const percents = rows.filter((r) => /\sProvisioning\s/.test(r)).map((r) => Number(/(\d+\.\d)%/.exec(r)?.[1]));
        assert.ok(percents.length >= 3, `several Provisioning rows:\n${watch.output()}`);
        for (let i = 1; i < percents.length; i++) assert.ok(percents[i]! >= percents[i - 1]!, `never decreasing: ${percents.join(", ")}`);
        assert.ok(percents[percents.length - 1]! > percents[0]!, `rising: ${percents.join(", ")}`);
        assert.ok(percents.every((p) => p < 100), "held below 100 until Ready");
        assert.match(rows[rows.length - 1]!, /\sReady\s+false\s+100%\s/);
        const o = JSON.parse(await kc.ok(["get", "cvi", name, "-o", "json"]));
        assert.equal(o.status.format, "raw");
        assert.equal(o.status.size.unpackedBytes, String(12 << 20));
        assert.equal(o.status.observedGeneration, 1);
        assert.equal(o.status.target.registryURL, `dvcr.d8-virtualization.svc/cvi/${name}:latest`);
        assert.match(o.status.downloadSpeed.avgBytes, /^\d+$/);
        assert.equal(readyCondition(o).reason, "Ready");
        assert.equal(o.status.conditions.find((c: any) => c.type === "DatasourceReady").status, "True");
      } finally {
        kc.dispose();
        await source.close();
      }
    });
  }

  it("uploads with curl -T to .status.imageUploadURLs; GET probes; the URL is dead after success; spec changes after Ready are refused", async () => {
    await k.ok(["apply", "-f", "-"], { input: cviYaml("uploaded", "    type: Upload\n") });
    await untilPhase(k, "uploaded", "WaitForUserUpload");
    const url = await k.ok(["get", "cvi", "uploaded", "-o", "jsonpath={.status.imageUploadURLs.external}"]);
    const inCluster = await k.ok(["get", "cvi", "uploaded", "-o", "jsonpath={.status.imageUploadURLs.inCluster}"]);
    assert.match(url, new RegExp(`^${server.url}/upload/[A-Za-z0-9]{32,}$`));
    assert.match(inCluster, /^http:\/\/dvcr\.d8-virtualization\.svc\/upload\/[A-Za-z0-9]{32,}$/);
    assert.equal((await fetch(url)).status, 200);
    const up = await curl([url, "--progress-bar", "-T", path.join(dir, "disk.qcow2"), "--fail-with-body"]);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const o = await untilPhase(k, "uploaded", "Ready");
    assert.equal(o.status.format, "qcow2");
    assert.equal(o.status.progress, "100%");
    assert.equal(o.status.imageUploadURLs, undefined);
    assert.equal((await fetch(url)).status, 404);
    const refused = await k.run(["patch", "cvi", "uploaded", "--type", "merge", "-p", `{"spec":{"dataSource":{"type":"HTTP","http":{"url":"${files.url("small.img")}"}}}}`]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /ClusterVirtualImage is in a Ready state: configuration changes are not available/);
    const described = await k.ok(["describe", "cvi", "uploaded"]);
    assert.match(described, /Format:\s+qcow2/);
  });

  it("a dropped upload waits with a message and resumes with curl -C <offset from GET>; a second concurrent upload gets 409", async () => {
    await k.ok(["apply", "-f", "-"], { input: cviYaml("resumed", "    type: Upload\n") });
    await untilPhase(k, "resumed", "WaitForUserUpload");
    const url = await k.ok(["get", "cvi", "resumed", "-o", "jsonpath={.status.imageUploadURLs.external}"]);
    const file = path.join(dir, "upload.img");
    const total = 8 << 20;
    const first = http.request(url, { method: "PUT", headers: { "Content-Length": String(total) } });
    first.on("error", () => undefined);
    first.write(Buffer.alloc(3 << 20, 3));
    const staged = await eventually(async () => {
      const body = (await (await fetch(url)).json()) as { offset: number; receiving: boolean };
      return body.receiving && body.offset >= 1 << 20 ? body.offset : undefined;
    }, 10_000, "bytes staged");
    assert.ok(staged > 0);
    const second = await curl([url, "-T", file, "-s", "-o", "/dev/null", "-w", "%{http_code}"]);
    assert.equal(second.stdout, "409");
    first.destroy();
    const waiting = await eventually(async () => {
      const o = JSON.parse(await k.ok(["get", "cvi", "resumed", "-o", "json"]));
      return o.status.phase === "WaitForUserUpload" && /interrupted/.test(readyCondition(o).message) ? o : undefined;
    }, 10_000, "the interrupted message");
    assert.match(readyCondition(waiting).message, /resume it with curl -C \d+ -T/);
    const probe = (await (await fetch(url)).json()) as { offset: number };
    assert.ok(probe.offset > 0 && probe.offset < total);
    // A malformed Content-Range is refused, not taken for a fresh upload from byte 0.
    const malformed = await fetch(url, { method: "PUT", headers: { "Content-Range": "bytes x-y/z" }, body: Buffer.alloc(16) });
    assert.equal(malformed.status, 400);
    assert.match(((await malformed.json()) as { message: string }).message, /Content-Range/);
    assert.equal(((await (await fetch(url)).json()) as { offset: number }).offset, probe.offset, "the staged bytes are untouched");
    const resumed = await curl(["-C", String(probe.offset), "-T", file, url, "--fail-with-body", "-s"]);
    assert.equal(resumed.code, 0, resumed.stdout);
    const o = await untilPhase(k, "resumed", "Ready");
    assert.equal(o.status.size.unpackedBytes, String(total));
  });

  it("fails with reasons a person can act on: 404 source, checksum mismatch, corrupt xz, upload checksum, upload timeout", async () => {
    const cases: [string, string, RegExp][] = [
      ["missing", httpSource(files.url("nosuch.img")), /not found/],
      ["badsum", httpSource(files.url("small.img"), `      checksum:\n        sha256: \"${"0".repeat(64)}\"\n`), /checksum mismatch/],
      ["corrupt", httpSource(files.url("corrupt.img.xz")), /corrupt|xz/i],
    ];
    for (const [name, ds] of cases) await k.ok(["apply", "-f", "-"], { input: cviYaml(name, ds) });
    for (const [name, , message] of cases) {
      const o = await untilPhase(k, name, "Failed");
      assert.equal(readyCondition(o).reason, "ProvisioningFailed", name);
      assert.match(readyCondition(o).message, message, name);
    }
    await k.ok(["apply", "-f", "-"], { input: cviYaml("upsum", `    type: Upload\n    upload:\n      checksum:\n        md5: \"${"1".repeat(32)}\"\n`) });
    await untilPhase(k, "upsum", "WaitForUserUpload");
    const url = await k.ok(["get", "cvi", "upsum", "-o", "jsonpath={.status.imageUploadURLs.external}"]);
    const up = await curl(["-s", "-T", path.join(dir, "small.img"), url, "-o", "/dev/null", "-w", "%{http_code}"]);
    assert.equal(up.stdout, "400");
    const failed = await untilPhase(k, "upsum", "Failed");
    assert.match(readyCondition(failed).message, /checksum mismatch/);
  });

  it("ObjectRef to another ClusterVirtualImage copies it without copying bytes", async () => {
    await k.ok(["apply", "-f", "-"], { input: cviYaml("origin", httpSource(files.url("small.img"))) });
    await untilPhase(k, "origin", "Ready");
    const blobs = (await server.registry.meta.usage()).blobs;
    await k.ok(["apply", "-f", "-"], { input: cviYaml("copy", "    type: ObjectRef\n    objectRef:\n      kind: ClusterVirtualImage\n      name: origin\n") });
    const o = await untilPhase(k, "copy", "Ready");
    assert.equal(o.status.format, "raw");
    assert.equal((await server.registry.meta.usage()).blobs, blobs, "no new blob");
    const digest = async (repo: string) => (await fetch(`${server.url}/v2/${repo}/manifests/latest`, { method: "HEAD" })).headers.get("docker-content-digest");
    assert.equal(await digest("cvi/copy"), await digest("cvi/origin"));
    await k.ok(["apply", "-f", "-"], { input: cviYaml("vdref", "    type: ObjectRef\n    objectRef:\n      kind: VirtualDisk\n      name: d\n      namespace: ns\n") });
    const failed = await untilPhase(k, "vdref", "Failed");
    assert.match(readyCondition(failed).message, /only ClusterVirtualImage references/);
  });

  it("a spec change before Ready restarts provisioning with the new source", async () => {
    await k.ok(["apply", "-f", "-"], { input: cviYaml("changed", "    type: Upload\n") });
    await untilPhase(k, "changed", "WaitForUserUpload");
    await k.ok(["patch", "cvi", "changed", "--type", "merge", "-p", `{"spec":{"dataSource":{"type":"HTTP","http":{"url":"${files.url("small.img")}"}}}}`]);
    const o = await untilPhase(k, "changed", "Ready");
    assert.equal(o.metadata.generation, 2);
    assert.equal(o.status.observedGeneration, 2);
    assert.equal(o.status.imageUploadURLs, undefined);
  });

  it("goes ImageLost when its manifest is deleted through the registry API", async () => {
    await k.ok(["apply", "-f", "-"], { input: cviYaml("lost", httpSource(files.url("small.img"))) });
    await untilPhase(k, "lost", "Ready");
    const digest = (await fetch(`${server.url}/v2/cvi/lost/manifests/latest`, { method: "HEAD" })).headers.get("docker-content-digest");
    assert.equal((await fetch(`${server.url}/v2/cvi/lost/manifests/${digest}`, { method: "DELETE" })).status, 202);
    // No explicit check: the delete itself makes the controller look (the periodic check is 30 s).
    const o = await untilPhase(k, "lost", "ImageLost", 5_000);
    assert.equal(readyCondition(o).reason, "ImageLost");
    assert.match(readyCondition(o).message, /re-create/);
  });
});

describe("ClusterVirtualImage upload timeout", () => {
  it("fails with WaitForUserUploadTimeout when no upload starts in time", async () => {
    const server = await startTestServer(cviConfig({ uploadTimeout: 1500 }));
    const k = new Kubectl(KUBECTL_CURRENT, server.url);
    try {
      await k.ok(["apply", "-f", "-"], { input: cviYaml("late", "    type: Upload\n") });
      const url = (await untilPhase(k, "late", "WaitForUserUpload")).status.imageUploadURLs.external;
      const o = await untilPhase(k, "late", "Failed", 10_000);
      assert.equal(readyCondition(o).reason, "WaitForUserUploadTimeout");
      assert.equal((await fetch(url)).status, 404);
    } finally {
      k.dispose();
      await server.dispose();
    }
  });
});
