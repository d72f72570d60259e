import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { errorCodes, sha256, TestClient } from "../helpers/client.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

describe("content discovery: tags, catalog, referrers", () => {
  let server: TestServer;
  let client: TestClient;
  const tags = ["v10", "v2", "A", "latest", "1.0", "_x", "v1"];
  let subject: Awaited<ReturnType<TestClient["pushImage"]>>;
  before(async () => {
    server = await startTestServer();
    client = new TestClient(server.url);
    subject = await client.pushImage("d/tags", tags[0]!);
    for (const t of tags.slice(1)) await client.pushManifest("d/tags", t, subject.body);
  });
  after(() => server.dispose());

  test("tags list is sorted lexically", async () => {
    const res = await client.fetch("/v2/d/tags/tags/list");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("link"), null);
    assert.deepEqual(await res.json(), { name: "d/tags", tags: [...tags].sort() });
  });

  test("n and last paginate with a Link header", async () => {
    const sorted = [...tags].sort();
    const seen: string[] = [];
    let path: string | null = "/v2/d/tags/tags/list?n=3";
    let pages = 0;
    while (path) {
      const res = await client.fetch(path);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { tags: string[] };
      assert.ok(body.tags.length <= 3);
      seen.push(...body.tags);
      const link = res.headers.get("link");
      path = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1]! : null;
      pages++;
    }
    assert.deepEqual(seen, sorted);
    assert.equal(pages, 3);
    const res = await client.fetch(`/v2/d/tags/tags/list?last=${sorted[4]}`);
    assert.deepEqual((await res.json()).tags, sorted.slice(5));
    const zero = await client.fetch("/v2/d/tags/tags/list?n=0");
    assert.deepEqual((await zero.json()).tags, []);
  });

  test("bad n or last is a 400 with a spec error body", async () => {
    for (const q of ["n=-1", "n=abc", "n=1.5", "last=-bad", "n=1&n=2"]) {
      const res = await client.fetch(`/v2/d/tags/tags/list?${q}`);
      assert.equal(res.status, 400, q);
      assert.equal((await errorCodes(res)).length, 1);
    }
  });

  test("tags of an unknown repository: NAME_UNKNOWN", async () => {
    const res = await client.fetch("/v2/d/none/tags/list");
    assert.equal(res.status, 404);
    assert.deepEqual(await errorCodes(res), ["NAME_UNKNOWN"]);
  });

  test("catalog lists repositories with the same pagination", async () => {
    await client.pushImage("d/cat/b", "x");
    await client.pushImage("d/cat/a", "x");
    await client.pushBlob("d/cat/blob-only", randomBytes(10));
    let res = await client.fetch("/v2/_catalog");
    const all = ((await res.json()) as { repositories: string[] }).repositories;
    assert.deepEqual(all, [...all].sort());
    assert.ok(all.includes("d/cat/a") && all.includes("d/cat/b") && all.includes("d/tags"));
    assert.ok(!all.includes("d/cat/blob-only"));
    res = await client.fetch("/v2/_catalog?n=1");
    assert.deepEqual((await res.json()).repositories, [all[0]]);
    assert.equal(res.headers.get("link"), `</v2/_catalog?n=1&last=${encodeURIComponent(all[0]!)}>; rel="next"`);
    res = await client.fetch(`/v2/_catalog?n=100&last=${all[0]}`);
    assert.deepEqual((await res.json()).repositories, all.slice(1));
    res = await client.fetch("/v2/_catalog?n=x");
    assert.equal(res.status, 400);
  });

  test("referrers: image index of manifests whose subject is the digest, artifactType filter", async () => {
    const desc = { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.size };
    const sig = await client.pushImage("d/tags", "sig", randomBytes(10), { artifactType: "application/vnd.example.sig", subject: desc });
    const sbom = await client.pushImage("d/tags", "sbom", randomBytes(10), { artifactType: "application/vnd.example.sbom", subject: desc });
    let res = await client.fetch(`/v2/d/tags/referrers/${subject.digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), OCI_INDEX);
    assert.equal(res.headers.get("oci-filters-applied"), null);
    const index = (await res.json()) as { schemaVersion: number; mediaType: string; manifests: Record<string, unknown>[] };
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, OCI_INDEX);
    assert.deepEqual(
      index.manifests.map((m) => [m.digest, m.artifactType, m.size, m.mediaType]).sort(),
      [
        [sig.digest, "application/vnd.example.sig", sig.size, OCI_MANIFEST],
        [sbom.digest, "application/vnd.example.sbom", sbom.size, OCI_MANIFEST],
      ].sort(),
    );
    res = await client.fetch(`/v2/d/tags/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`);
    assert.equal(res.headers.get("oci-filters-applied"), "artifactType");
    assert.deepEqual(((await res.json()) as typeof index).manifests.map((m) => m.digest), [sbom.digest]);
  });

  test("referrers of a digest with none (or an unknown repository) is an empty index", async () => {
    for (const path of [`/v2/d/tags/referrers/${sha256("none")}`, `/v2/d/unknown/referrers/${sha256("none")}`]) {
      const res = await client.fetch(path);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
    }
    const res = await client.fetch("/v2/d/tags/referrers/sha256:bad");
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["DIGEST_INVALID"]);
  });

  test("artifactType of a manifest without one falls back to its config media type", async () => {
    const desc = { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.size };
    const plain = await client.pushImage("d/tags", "plain-ref", randomBytes(10), { subject: desc });
    const res = await client.fetch(`/v2/d/tags/referrers/${subject.digest}?artifactType=application/vnd.oci.image.config.v1%2Bjson`);
    assert.deepEqual(((await res.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest), [plain.digest]);
  });
});
