import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_CONFIG } from "../../src/config/config.js";
import { startFileServer, type FileServer } from "../helpers/file-server.js";
import { cviYaml, eventually, Kubectl, KUBECTL_CURRENT, kubectl120 } from "../helpers/kubectl.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";

const CLIENTS: [string, () => Promise<string>][] = [
  ["kubectl 1.30+", async () => KUBECTL_CURRENT],
  ["kubectl 1.20", kubectl120],
];

for (const [label, binaryOf] of CLIENTS) {
  describe(`ClusterVirtualImage API with the real ${label}`, () => {
    let server: TestServer;
    let files: FileServer;
    let k: Kubectl;
    const http = (name: string) => `    type: HTTP\n    http:\n      url: ${files.url(name)}\n`;

    before(async () => {
      const dir = tempDir("dvcr-cvi-src-");
      writeFileSync(path.join(dir, "small.img"), Buffer.alloc(1 << 20, 7));
      files = await startFileServer(dir);
      server = await startTestServer({ cvi: { ...DEFAULT_CONFIG.cvi, progressInterval: 100 } });
      k = new Kubectl(await binaryOf(), server.url);
    });
    after(async () => {
      k.dispose();
      await server.dispose();
      await files.close();
    });

    it("applies, prints the server's Table (wide adds sizes and the registry URL), and re-applies as unchanged", async () => {
      const yaml = cviYaml("alpine", http("small.img"));
      assert.match(await k.ok(["apply", "-f", "-"], { input: yaml }), /clustervirtualimage.virtualization.deckhouse.io\/alpine created/);
      const table = await k.ok(["get", "cvi"]);
      assert.match(table.split("\n")[0]!, /^NAME\s+PHASE\s+CDROM\s+PROGRESS\s+AGE$/);
      assert.match(table, /^alpine\s/m);
      const wide = await k.ok(["get", "clustervirtualimages", "-o", "wide"]);
      assert.match(wide.split("\n")[0]!, /^NAME\s+PHASE\s+CDROM\s+PROGRESS\s+STORED SIZE\s+UNPACKED SIZE\s+REGISTRY URL\s+AGE$/);
      assert.match(await k.ok(["apply", "-f", "-"], { input: yaml }), /alpine unchanged/);
      const object = JSON.parse(await k.ok(["get", "cvi", "alpine", "-o", "json"]));
      assert.equal(object.metadata.generation, 1);
      assert.match(object.metadata.uid, /^[0-9a-f-]{36}$/);
      assert.match(object.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.ok(object.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"].includes('"alpine"'));
      // The controller provisions it: the wide row then carries sizes and the registry URL.
      await eventually(async () => ((await k.ok(["get", "cvi", "alpine", "-o", "jsonpath={.status.phase}"])) === "Ready" ? true : undefined));
      assert.match(await k.ok(["get", "cvi", "alpine", "-o", "wide"]), /^alpine\s+Ready\s+false\s+100%\s+1Mi\s+1Mi\s+dvcr\.d8-virtualization\.svc\/cvi\/alpine:latest\s+\d+s$/m);
    });

    it("keeps labels and annotations, filters by label selector and by fieldSelector metadata.name", async () => {
      await k.ok(["apply", "-f", "-"], { input: cviYaml("labelled", http("small.img"), "  labels: {os: linux, tier: base}\n  annotations: {note: kept}\n") });
      await k.ok(["apply", "-f", "-"], { input: cviYaml("other", http("small.img"), "  labels: {os: windows}\n") });
      const names = async (args: string[]) => (await k.ok(["get", "cvi", ...args, "-o", "jsonpath={.items[*].metadata.name}"])).split(" ").filter((s) => s).sort();
      assert.deepEqual(await names(["-l", "os=linux"]), ["labelled"]);
      assert.deepEqual(await names(["-l", "os in (linux,windows)"]), ["labelled", "other"]);
      assert.deepEqual(await names(["-l", "os!=linux,os"]), ["other"]);
      assert.deepEqual(await names(["-l", "!tier", "--field-selector", "metadata.name=other"]), ["other"]);
      assert.deepEqual(await names(["--field-selector", "metadata.name=labelled"]), ["labelled"]);
      assert.deepEqual(await names(["--field-selector", "metadata.name!=labelled", "-l", "os"]), ["other"]);
      const o = JSON.parse(await k.ok(["get", "cvi", "labelled", "-o", "json"]));
      assert.deepEqual(o.metadata.labels, { os: "linux", tier: "base" });
      assert.equal(o.metadata.annotations.note, "kept");
      const bad = await k.run(["get", "cvi", "--field-selector", "spec.dataSource.type=HTTP"]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /field label not supported: spec.dataSource.type/);
    });

    it("refuses invalid objects with field paths (names with '.', a sub-object of another type, URL, checksum, image reference)", async () => {
      const cases: [string, string, RegExp][] = [
        ["bad.name", http("small.img"), /metadata\.name: Invalid value: "bad\.name"/],
        ["mixed", `    type: HTTP\n    http: {url: "${files.url("x")}"}\n    containerImage: {image: "a/b:c"}\n`, /spec\.dataSource\.containerImage: Forbidden: must not be set when type is HTTP/],
        ["missing", `    type: ContainerImage\n`, /spec\.dataSource\.containerImage: Required value/],
        ["ftp", `    type: HTTP\n    http: {url: "ftp://example.com/x.img"}\n`, /spec\.dataSource\.http\.url: Invalid value: "ftp:\/\/example\.com\/x\.img"/],
        ["sum", `    type: HTTP\n    http: {url: "${files.url("x")}", checksum: {sha256: "abc"}}\n`, /spec\.dataSource\.http\.checksum\.sha256: Invalid value: "abc": must be 64 hexadecimal digits/],
        ["img", `    type: ContainerImage\n    containerImage: {image: "Registry.Example.com/UPPER:tag"}\n`, /spec\.dataSource\.containerImage\.image: Invalid value/],
        ["kind", `    type: Disk\n`, /spec\.dataSource\.type: Unsupported value: "Disk"/],
      ];
      for (const [name, ds, expected] of cases) {
        const r = await k.run(["apply", "-f", "-"], { input: cviYaml(name, ds) });
        assert.notEqual(r.code, 0, name);
        assert.match(r.stderr, /is invalid/, name);
        assert.match(r.stderr, expected, `${name}: ${r.stderr}`);
      }
      assert.equal((await k.ok(["get", "cvi", "-o", "name"])).includes("bad.name"), false);
    });

    it("answers Status errors kubectl understands: NotFound, AlreadyExists, Conflict on a stale resourceVersion", async () => {
      const missing = await k.run(["get", "cvi", "nosuch"]);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /Error from server \(NotFound\): clustervirtualimages.virtualization.deckhouse.io "nosuch" not found/);
      const again = await k.run(["create", "-f", "-"], { input: cviYaml("alpine", http("small.img")) });
      assert.match(again.stderr, /Error from server \(AlreadyExists\).*"alpine" already exists/);
      const stale = await k.run(["patch", "cvi", "alpine", "--type", "merge", "-p", '{"metadata":{"resourceVersion":"1","labels":{"a":"b"}}}']);
      assert.match(stale.stderr, /Error from server \(Conflict\).*the object has been modified/);
    });

    it("describe shows the object and its conditions", async () => {
      const out = await k.ok(["describe", "cvi", "alpine"]);
      assert.match(out, /^Name:\s+alpine$/m);
      assert.match(out, /Kind:\s+ClusterVirtualImage/);
      assert.match(out, /Type:\s+Ready/);
      assert.match(out, /Phase:\s+Ready/);
    });

    it("deletes: the object goes Terminating, its repository is removed, then it is gone", async () => {
      await k.ok(["apply", "-f", "-"], { input: cviYaml("doomed", http("small.img")) });
      await eventually(async () => ((await k.ok(["get", "cvi", "doomed", "-o", "jsonpath={.status.phase}"])) === "Ready" ? true : undefined));
      const manifest = await fetch(`${server.url}/v2/cvi/doomed/manifests/latest`, { method: "HEAD" });
      assert.equal(manifest.status, 200);
      const out = await k.ok(["delete", "cvi", "doomed", "--timeout=30s"]);
      assert.match(out, /clustervirtualimage.virtualization.deckhouse.io "doomed" deleted/);
      const gone = await k.run(["get", "cvi", "doomed"]);
      assert.match(gone.stderr, /NotFound/);
      assert.equal((await fetch(`${server.url}/v2/cvi/doomed/manifests/latest`, { method: "HEAD" })).status, 404);
    });
  });
}
