import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as v from "valibot";
import { parseManifest } from "../../src/oci/index.js";
import * as schema from "../../src/oci/schema.js";

const D = `sha256:${"a".repeat(64)}`;

function issuesOf(s: v.GenericSchema, value: unknown): string[] {
  const result = schema.validate(s, value);
  assert.equal(result.success, false, `expected ${JSON.stringify(value)} to be refused`);
  return result.success ? [] : result.issues.map((i) => schema.formatIssue(i));
}

describe("validation on valibot", () => {
  test("scalars: type, bounds, integers, patterns, literals, enumerations", () => {
    assert.deepEqual(issuesOf(v.string(), 5), ["(root): expected string, received number"]);
    assert.deepEqual(issuesOf(schema.nonEmpty, ""), ["(root): must be at least 1 character long"]);
    assert.deepEqual(issuesOf(v.pipe(v.string(), v.minLength(1), v.regex(/^a+$/, "only a")), ""), ["(root): must be at least 1 character long"], "the first issue of a pipe only");
    assert.deepEqual(issuesOf(v.pipe(v.string(), v.regex(/^a+$/, "only a")), "ab"), ["(root): only a"]);
    assert.deepEqual(issuesOf(schema.intAtLeast(0), 1.5), ["(root): expected an integer"]);
    assert.deepEqual(issuesOf(v.pipe(v.number(), v.minValue(0), v.maxValue(10)), 11), ["(root): must be at most 10"]);
    assert.deepEqual(issuesOf(v.pipe(v.number(), v.gtValue(0)), 0), ["(root): must be greater than 0"]);
    assert.deepEqual(issuesOf(v.number(), "1"), ["(root): expected number, received string"]);
    assert.deepEqual(issuesOf(v.literal(2), 3), ["(root): expected 2"]);
    assert.deepEqual(issuesOf(v.picklist(["a", "b"]), "c"), ['(root): expected one of "a" | "b"']);
    assert.deepEqual(issuesOf(v.boolean(), "true"), ["(root): expected boolean, received string"]);
    assert.deepEqual(issuesOf(schema.numberOrString(), Infinity), ["(root): expected a finite number"]);
    assert.deepEqual(schema.validate(schema.intAtLeast(0), 0), { success: true, data: 0 });
  });

  test("every issue of a nested document is reported with its path", () => {
    const s = schema.object({ a: v.array(schema.object({ b: v.number() })), c: v.optional(schema.record(v.string(), v.string())) });
    assert.deepEqual(issuesOf(s, { a: [{ b: 1 }, { b: "x" }, {}], c: { k: 1 } }), [
      "a.1.b: expected number, received string",
      "a.2.b: missing (required)",
      "c.k: expected string, received number",
    ]);
    assert.deepEqual(issuesOf(s, []), ["(root): expected object, received array"]);
    assert.deepEqual(issuesOf(s, null), ["(root): expected object, received null"]);
    assert.deepEqual(issuesOf(s, { a: [], c: [] }), ["c: expected object, received array"]);
  });

  test("a strict object refuses every unknown key, naming the known ones; a lenient one drops them", () => {
    const shape = { known: v.string(), maybe: v.optional(v.number()) };
    const result = schema.validate(schema.strictObject(shape), { known: "x", typo: 1, other: 2 });
    assert.equal(result.success, false);
    assert.deepEqual(!result.success && result.issues, [
      { path: ["typo"], message: "unknown key", knownKeys: ["known", "maybe"] },
      { path: ["other"], message: "unknown key", knownKeys: ["known", "maybe"] },
    ]);
    const nested = schema.strictObject({ outer: v.optional(v.array(schema.strictObject({ inner: v.boolean() }))) });
    const deep = schema.validate(nested, { outer: [{ inner: true }, { inner: false, iner: true }] });
    assert.deepEqual(!deep.success && deep.issues, [{ path: ["outer", 1, "iner"], message: "unknown key", knownKeys: ["inner"] }]);
    assert.deepEqual(schema.validate(schema.object(shape), { known: "x", extra: true }), { success: true, data: { known: "x" } });
    assert.deepEqual(issuesOf(schema.strictObject(shape), []), ["(root): expected object, received array"]);
  });

  test("unions are named by their options", () => {
    assert.deepEqual(issuesOf(schema.numberOrString(), true), ["(root): expected number or string, received boolean"]);
    assert.deepEqual(issuesOf(v.pipe(v.array(v.string()), v.minLength(1)), []), ["(root): must have at least 1 item"]);
  });

  test("manifests: each bad descriptor field is named in the MANIFEST_INVALID detail", () => {
    const body = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: D, size: 2 },
      layers: [{ mediaType: "not a type", digest: "sha256:nope", size: -1 }],
    };
    let detail: unknown;
    assert.throws(
      () => parseManifest(Buffer.from(JSON.stringify(body)), undefined),
      (e: Error & { code?: string; detail?: unknown }) => ((detail = e.detail), e.code === "MANIFEST_INVALID"),
    );
    const issues = (detail as { issues: schema.Issue[] }).issues.map((i) => schema.formatIssue(i));
    assert.deepEqual(issues, ["layers.0.mediaType: invalid media type", "layers.0.digest: invalid digest", "layers.0.size: must be at least 0"]);
  });
});
