import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { errorCodes, sha256, TestClient } from "../helpers/client.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";

describe("manifests", () => {
  let server: TestServer;
  let client: TestClient;
  before(async () => {
    server = await startTestServer();
    client = new TestClient(server.url);
  });
  after(() => server.dispose());

  test("OCI image manifest: PUT by tag, GET/HEAD by tag and digest", async () => {
    const img = await client.pushImage("m/oci", "v1");
    for (const ref of ["v1", img.digest]) {
      const get = await client.fetch(`/v2/m/oci/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
      assert.equal(get.status, 200);
      assert.equal(get.headers.get("content-type"), OCI_MANIFEST);
      assert.equal(get.headers.get("docker-content-digest"), img.digest);
      assert.equal(get.headers.get("content-length"), String(img.size));
      assert.equal(await get.text(), img.body);
      const head = await client.fetch(`/v2/m/oci/manifests/${ref}`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("docker-content-digest"), img.digest);
      assert.equal(head.headers.get("content-length"), String(img.size));
      assert.equal(head.headers.get("content-type"), OCI_MANIFEST);
    }
  });

  test("PUT answers 201 with Location and Docker-Content-Digest; byte-exact storage", async () => {
    const config = await client.pushBlob("m/put", Buffer.from("{}"));
    // Unusual but valid formatting must be kept byte for byte (the digest is of the bytes).
    const body = `{ "schemaVersion": 2,\n  "mediaType": "${OCI_MANIFEST}", "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "${config}", "size": 2}, "layers": [] }\n`;
    const res = await client.pushManifest("m/put", "weird", body, OCI_MANIFEST);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("location"), `/v2/m/put/manifests/${sha256(body)}`);
    assert.equal(res.headers.get("docker-content-digest"), sha256(body));
    const get = await client.fetch(`/v2/m/put/manifests/weird`);
    assert.equal(await get.text(), body);
  });

  test("Docker schema2 manifest and manifest list, OCI index", async () => {
    const docker = await client.pushImage("m/docker", "amd64", randomBytes(100), { mediaType: DOCKER_MANIFEST });
    const other = await client.pushImage("m/docker", "arm64", randomBytes(100), { mediaType: DOCKER_MANIFEST });
    const list = {
      schemaVersion: 2,
      mediaType: DOCKER_LIST,
      manifests: [
        { mediaType: DOCKER_MANIFEST, digest: docker.digest, size: docker.size, platform: { architecture: "amd64", os: "linux" } },
        { mediaType: DOCKER_MANIFEST, digest: other.digest, size: other.size, platform: { architecture: "arm64", os: "linux" } },
      ],
    };
    let res = await client.pushManifest("m/docker", "multi", list);
    assert.equal(res.status, 201);
    let get = await client.fetch("/v2/m/docker/manifests/multi", { headers: { Accept: `${DOCKER_LIST}, ${DOCKER_MANIFEST}` } });
    assert.equal(get.headers.get("content-type"), DOCKER_LIST);
    assert.deepEqual(await get.json(), list);
    get = await client.fetch("/v2/m/docker/manifests/amd64", { headers: { Accept: DOCKER_MANIFEST } });
    assert.equal(get.headers.get("content-type"), DOCKER_MANIFEST);

    const oci = await client.pushImage("m/index", "one");
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: oci.digest, size: oci.size }] };
    res = await client.pushManifest("m/index", "idx", index);
    assert.equal(res.status, 201);
    get = await client.fetch("/v2/m/index/manifests/idx");
    assert.equal(get.headers.get("content-type"), OCI_INDEX);
  });

  test("content negotiation: a manifest type missing from Accept is not served", async () => {
    await client.pushImage("m/accept", "v1");
    let res = await client.fetch("/v2/m/accept/manifests/v1", { headers: { Accept: DOCKER_MANIFEST } });
    assert.equal(res.status, 404);
    assert.deepEqual(await errorCodes(res), ["MANIFEST_UNKNOWN"]);
    for (const accept of ["*/*", "application/*", `${DOCKER_MANIFEST};q=0.9, ${OCI_MANIFEST}`, ""]) {
      res = await client.fetch("/v2/m/accept/manifests/v1", { headers: accept ? { Accept: accept } : {} });
      assert.equal(res.status, 200, accept);
      await res.arrayBuffer();
    }
  });

  test("an artifact manifest with subject gets OCI-Subject; subject need not exist", async () => {
    const subjectDigest = sha256("a subject that was never pushed");
    const img = await client.pushImage("m/artifact", "sig", randomBytes(50), {
      artifactType: "application/vnd.example.signature",
      subject: { mediaType: OCI_MANIFEST, digest: subjectDigest, size: 123 },
    });
    const res = await client.fetch(`/v2/m/artifact/manifests/${img.digest}`, { method: "HEAD" });
    assert.equal(res.status, 200);
    const again = await client.pushManifest("m/artifact", img.digest, img.body);
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("oci-subject"), subjectDigest);
  });

  test("PUT by digest verifies the digest; ?tag= adds tags", async () => {
    const img = await client.pushImage("m/bydigest", "first");
    let res = await client.pushManifest("m/bydigest", sha256("other"), img.body);
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["DIGEST_INVALID"]);
    res = await client.pushManifest("m/bydigest", `${img.digest}?tag=a&tag=b`, img.body);
    assert.equal(res.status, 201);
    const tags = await (await client.fetch("/v2/m/bydigest/tags/list")).json();
    assert.deepEqual(tags, { name: "m/bydigest", tags: ["a", "b", "first"] });
  });

  test("a manifest referencing unknown blobs or manifests is MANIFEST_BLOB_UNKNOWN and not stored", async () => {
    const config = await client.pushBlob("m/unknown", Buffer.from("{}"));
    const missingLayer = sha256("missing layer");
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config, size: 2 },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: missingLayer, size: 10 }],
    };
    let res = await client.pushManifest("m/unknown", "bad", manifest);
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["MANIFEST_BLOB_UNKNOWN"]);
    res = await client.fetch("/v2/m/unknown/manifests/bad");
    assert.equal(res.status, 404);
    // A blob that exists in another repository is still unknown here (no implicit cross-repo access).
    const elsewhere = await client.pushBlob("m/elsewhere", Buffer.from("layer"));
    manifest.layers = [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: elsewhere, size: 5 }];
    res = await client.pushManifest("m/unknown", "bad", manifest);
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["MANIFEST_BLOB_UNKNOWN"]);
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256("nope"), size: 5 }] };
    res = await client.pushManifest("m/unknown", "idx", index);
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["MANIFEST_BLOB_UNKNOWN"]);
  });

  test("a descriptor whose size disagrees with the stored blob is MANIFEST_INVALID", async () => {
    const config = await client.pushBlob("m/size", Buffer.from("{}"));
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config, size: 3 },
      layers: [],
    };
    const res = await client.pushManifest("m/size", "bad", manifest);
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["MANIFEST_INVALID"]);
  });

  test("malformed and schema-invalid manifests are MANIFEST_INVALID", async () => {
    const config = await client.pushBlob("m/invalid", Buffer.from("{}"));
    const desc = { mediaType: "application/vnd.oci.image.config.v1+json", digest: config, size: 2 };
    const cases: [string, string][] = [
      ["{not json", OCI_MANIFEST],
      ["[]", OCI_MANIFEST],
      [JSON.stringify({ schemaVersion: 1, config: desc, layers: [] }), OCI_MANIFEST],
      [JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] }), OCI_MANIFEST],
      [JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { ...desc, digest: "sha256:xyz" }, layers: [] }), OCI_MANIFEST],
      [JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { ...desc, size: -1 }, layers: [] }), OCI_MANIFEST],
      [JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, config: desc, layers: [] }), OCI_MANIFEST],
      [JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.example+json", config: desc, layers: [] }), "application/vnd.example+json"],
      [JSON.stringify({ schemaVersion: 2, config: desc, layers: [] }), DOCKER_MANIFEST],
      [JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: "no" }), OCI_INDEX],
    ];
    for (const [body, type] of cases) {
      const res = await client.pushManifest("m/invalid", "t", body, type);
      assert.equal(res.status, 400, body);
      assert.deepEqual(await errorCodes(res), ["MANIFEST_INVALID"], body);
    }
    const tags = await client.fetch("/v2/m/invalid/tags/list");
    assert.deepEqual((await tags.json()).tags ?? [], []);
  });

  test("an oversized manifest is refused with 413 before it is read", async () => {
    const huge = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, annotations: { pad: "x".repeat(4 * 1024 * 1024) } });
    const res = await client.pushManifest("m/huge", "big", huge, OCI_MANIFEST);
    assert.equal(res.status, 413);
    assert.deepEqual(await errorCodes(res), ["SIZE_INVALID"]);
  });

  test("invalid tags and digests in the reference", async () => {
    const img = await client.pushImage("m/ref", "ok");
    let res = await client.pushManifest("m/ref", "-bad-tag", img.body);
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["TAG_INVALID"]);
    res = await client.pushManifest("m/ref", "x".repeat(129), img.body);
    assert.equal(res.status, 400);
    assert.deepEqual(await errorCodes(res), ["TAG_INVALID"]);
    // Read or delete by a reference that is neither a tag nor a digest: no such manifest (404),
    // as the reference registry and the upstream conformance suite have it.
    for (const reference of [".INVALID_MANIFEST_NAME", "-bad-tag", "sha256:totallywrong", "x".repeat(129)]) {
      for (const method of ["GET", "DELETE"]) {
        res = await client.fetch(`/v2/m/ref/manifests/${reference}`, { method });
        assert.equal(res.status, 404, `${method} ${reference}`);
        assert.deepEqual(await errorCodes(res), ["MANIFEST_UNKNOWN"], `${method} ${reference}`);
      }
      res = await client.fetch(`/v2/m/ref/manifests/${reference}`, { method: "HEAD" });
      assert.equal(res.status, 404, `HEAD ${reference}`);
    }
  });

  test("unknown manifests and repositories", async () => {
    await client.pushImage("m/known", "v1");
    let res = await client.fetch("/v2/m/known/manifests/nope");
    assert.equal(res.status, 404);
    assert.deepEqual(await errorCodes(res), ["MANIFEST_UNKNOWN"]);
    res = await client.fetch(`/v2/m/known/manifests/${sha256("nope")}`, { method: "HEAD" });
    assert.equal(res.status, 404);
    res = await client.fetch("/v2/m/never/manifests/latest");
    assert.equal(res.status, 404);
    assert.deepEqual(await errorCodes(res), ["NAME_UNKNOWN"]);
  });

  test("DELETE by tag removes only the tag; by digest removes the manifest and its tags", async () => {
    const img = await client.pushImage("m/delete", "a");
    await client.pushManifest("m/delete", "b", img.body);
    let res = await client.fetch("/v2/m/delete/manifests/a", { method: "DELETE" });
    assert.equal(res.status, 202);
    res = await client.fetch("/v2/m/delete/manifests/a");
    assert.equal(res.status, 404);
    res = await client.fetch(`/v2/m/delete/manifests/${img.digest}`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    res = await client.fetch(`/v2/m/delete/manifests/${img.digest}`, { method: "DELETE" });
    assert.equal(res.status, 202);
    for (const ref of [img.digest, "b"]) {
      res = await client.fetch(`/v2/m/delete/manifests/${ref}`);
      assert.equal(res.status, 404);
      assert.deepEqual(await errorCodes(res), ["MANIFEST_UNKNOWN"]);
    }
    res = await client.fetch(`/v2/m/delete/manifests/${img.digest}`, { method: "DELETE" });
    assert.equal(res.status, 404);
    assert.deepEqual(await errorCodes(res), ["MANIFEST_UNKNOWN"]);
  });

  test("retagging moves the tag to the new manifest", async () => {
    const one = await client.pushImage("m/retag", "latest");
    const two = await client.pushImage("m/retag", "latest");
    assert.notEqual(one.digest, two.digest);
    const res = await client.fetch("/v2/m/retag/manifests/latest", { method: "HEAD" });
    assert.equal(res.headers.get("docker-content-digest"), two.digest);
  });
});

describe("deletes can be disabled", () => {
  test("DELETE answers 405 UNSUPPORTED", async () => {
    const server = await startTestServer({ delete: { enabled: false } });
    const client = new TestClient(server.url);
    try {
      const img = await client.pushImage("d/x", "v1");
      for (const path of [`/v2/d/x/manifests/${img.digest}`, "/v2/d/x/manifests/v1", `/v2/d/x/blobs/${img.layerDigest}`]) {
        const res = await client.fetch(path, { method: "DELETE" });
        assert.equal(res.status, 405, path);
        assert.deepEqual(await errorCodes(res), ["UNSUPPORTED"]);
      }
    } finally {
      await server.dispose();
    }
  });
});
