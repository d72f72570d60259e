import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { describe, it } from "node:test";
import { cviYaml, eventually, Kubectl, KUBECTL_CURRENT } from "../helpers/kubectl.js";
import { startChildServer, tempDir } from "../helpers/server.js";
import { startSlowSource } from "../helpers/slow-source.js";

async function statusOf(k: Kubectl, name: string): Promise<any> {
  return JSON.parse(await k.ok(["get", "cvi", name, "-o", "json"])).status ?? {};
}

describe("ClusterVirtualImage restart recovery", () => {
  it("after kill -9, a Provisioning image resumes to Ready (progress never going back) and a WaitForUserUpload image keeps its URL", async () => {
    const root = tempDir();
    // The source keeps the test process alive until closed: started only once nothing before the try can throw.
    let child = await startChildServer(root);
    let k = new Kubectl(KUBECTL_CURRENT, child.url);
    const source = await startSlowSource(24 << 20, 4 << 20);
    try {
      await k.ok(["apply", "-f", "-"], { input: cviYaml("interrupted", `    type: HTTP\n    http:\n      url: ${source.url}\n`) });
      await k.ok(["apply", "-f", "-"], { input: cviYaml("waiting", "    type: Upload\n") });
      const before = await eventually(async () => {
        const s = await statusOf(k, "interrupted");
        return s.phase === "Provisioning" && Number.parseFloat(s.progress) > 5 ? s : undefined;
      }, 20_000, "provisioning under way");
      const url = (await eventually(async () => (await statusOf(k, "waiting")).imageUploadURLs?.external, 10_000, "upload URL")) as string;
      await child.kill("SIGKILL");
      child = await startChildServer(root);
      k.dispose();
      k = new Kubectl(KUBECTL_CURRENT, child.url);
      const resumed = await statusOf(k, "interrupted");
      assert.equal(resumed.phase, "Provisioning");
      assert.ok(Number.parseFloat(resumed.progress) >= Number.parseFloat(before.progress), `${resumed.progress} >= ${before.progress}`);
      const ready = await eventually(async () => {
        const s = await statusOf(k, "interrupted");
        return s.phase === "Ready" ? s : undefined;
      }, 30_000, "Ready after the restart");
      assert.equal(ready.size.unpackedBytes, String(24 << 20));
      const waiting = await statusOf(k, "waiting");
      assert.equal(waiting.phase, "WaitForUserUpload");
      // The port changed with the restart; the token (the path) is what must survive.
      assert.equal(new URL(waiting.imageUploadURLs.external).pathname, new URL(url).pathname);
      assert.equal((await fetch(`${child.url}${new URL(url).pathname}`)).status, 200);
    } finally {
      k.dispose();
      await child.kill("SIGKILL");
      await source.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
