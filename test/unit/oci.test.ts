import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  MediaType,
  RegistryError,
  parseDigest,
  parseManifest,
  parseReference,
  parseRepositoryName,
} from "../../src/oci/index.js";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RegistryError);
    return err.code;
  }
  return "no error";
}

const D = `sha256:${"a".repeat(64)}`;

describe("digest grammar", () => {
  test("accepts sha256 and sha512", () => {
    assert.deepEqual(parseDigest(D), { algorithm: "sha256", hex: "a".repeat(64), value: D });
    assert.equal(parseDigest(`sha512:${"0".repeat(128)}`).algorithm, "sha512");
  });
  test("refuses malformed, wrong length, upper case, unknown algorithms", () => {
    for (const bad of ["", "sha256", "sha256:", `sha256:${"a".repeat(63)}`, `sha256:${"A".repeat(64)}`, `sha512:${"a".repeat(64)}`, `md5:${"a".repeat(32)}`, "sha256:totallywrong", `sha256:${"a".repeat(64)}/../x`]) {
      assert.equal(code(() => parseDigest(bad)), "DIGEST_INVALID", bad);
    }
  });
});

describe("repository names and references", () => {
  test("spec grammar", () => {
    for (const ok of ["a", "a/b", "a.b_c__d-e---f/g", "cvi/ubuntu-22.04", "vi/ns/name"]) assert.equal(parseRepositoryName(ok), ok);
    for (const bad of ["", "A", "a/../b", "../a", "a/./b", "a//b", "/a", "a/", "a-", "-a", "a___b", "a.-b", `${"a".repeat(256)}`, "a b", "a\u0000b"]) {
      assert.equal(code(() => parseRepositoryName(bad)), "NAME_INVALID", JSON.stringify(bad));
    }
  });
  test("references are tags or digests", () => {
    assert.deepEqual(parseReference("latest"), { kind: "tag", tag: "latest" });
    assert.equal(parseReference(D).kind, "digest");
    assert.equal(code(() => parseReference("-x")), "TAG_INVALID");
    assert.equal(code(() => parseReference("x".repeat(129))), "TAG_INVALID");
    assert.equal(code(() => parseReference("sha256:zz")), "DIGEST_INVALID");
  });
});

describe("manifest validation", () => {
  const desc = { mediaType: MediaType.OciConfig, digest: D, size: 2 };
  const image = (extra: object = {}) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: desc, layers: [desc], ...extra }));

  test("image manifest: blobs, artifactType falls back to config.mediaType", () => {
    const m = parseManifest(image(), MediaType.OciManifest);
    assert.equal(m.mediaType, MediaType.OciManifest);
    assert.equal(m.blobs.length, 2);
    assert.equal(m.artifactType, MediaType.OciConfig);
    assert.equal(parseManifest(image({ artifactType: "application/x.sig" }), undefined).artifactType, "application/x.sig");
  });
  test("index: child manifests, subject", () => {
    const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [{ ...desc, mediaType: MediaType.OciManifest }], subject: desc }));
    const m = parseManifest(idx, "application/json");
    assert.equal(m.mediaType, MediaType.OciIndex);
    assert.equal(m.manifests.length, 1);
    assert.equal(m.subject?.digest, D);
  });
  test("media type comes from Content-Type or the body, and they must agree", () => {
    const noType = Buffer.from(JSON.stringify({ schemaVersion: 2, config: desc, layers: [] }));
    assert.equal(parseManifest(noType, "").mediaType, MediaType.OciManifest);
    assert.equal(parseManifest(noType, `${MediaType.OciManifest}; charset=utf-8`).mediaType, MediaType.OciManifest);
    assert.equal(code(() => parseManifest(image(), MediaType.DockerManifest)), "MANIFEST_INVALID");
    assert.equal(code(() => parseManifest(noType, MediaType.DockerManifest)), "MANIFEST_INVALID");
  });
  test("schema violations", () => {
    for (const body of ["", "null", "1", "{", JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { ...desc, size: 1.5 }, layers: [] }), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { ...desc, mediaType: "bad" }, layers: [] }), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: desc, layers: {} })]) {
      assert.equal(code(() => parseManifest(Buffer.from(body), MediaType.OciManifest)), "MANIFEST_INVALID", body);
    }
  });
});
