import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseManifest } from "../../src/oci/index.js";
import * as v from "../../src/oci/schema.js";

const D = `sha256:${"a".repeat(64)}`;

function issuesOf<T>(schema: v.Schema<T>, value: unknown): string[] {
  const result = schema.safeParse(value);
  assert.equal(result.success, false, `expected ${JSON.stringify(value)} to be refused`);
  return result.success ? [] : result.issues.map((i) => v.formatIssue(i));
}

describe("schema validator", () => {
  test("scalars: type, bounds, integers, patterns, literals, enumerations", () => {
    assert.deepEqual(issuesOf(v.string(), 5), ["(root): expected string, received number"]);
    assert.deepEqual(issuesOf(v.string({ min: 1 }), ""), ["(root): must be at least 1 character long"]);
    assert.deepEqual(issuesOf(v.string({ pattern: { regex: /^a+$/, message: "only a" } }), "ab"), ["(root): only a"]);
    assert.deepEqual(issuesOf(v.number({ int: true }), 1.5), ["(root): expected an integer"]);
    assert.deepEqual(issuesOf(v.number({ min: 0, max: 10 }), 11), ["(root): must be at most 10"]);
    assert.deepEqual(issuesOf(v.number({ positive: true }), 0), ["(root): must be greater than 0"]);
    assert.deepEqual(issuesOf(v.number(), "1"), ["(root): expected number, received string"]);
    assert.deepEqual(issuesOf(v.literal(2), 3), ["(root): expected 2"]);
    assert.deepEqual(issuesOf(v.oneOf(["a", "b"]), "c"), ['(root): expected one of "a"|"b"']);
    assert.deepEqual(issuesOf(v.boolean(), "true"), ["(root): expected boolean, received string"]);
    assert.deepEqual(v.number({ int: true, min: 0 }).safeParse(0), { success: true, data: 0 });
  });

  test("every issue of a nested document is reported with its path", () => {
    const schema = v.object({ a: v.array(v.object({ b: v.number() })), c: v.record(v.string(), v.string()).optional() });
    assert.deepEqual(issuesOf(schema, { a: [{ b: 1 }, { b: "x" }, {}], c: { k: 1 } }), [
      "a.1.b: expected number, received string",
      "a.2.b: expected number, received undefined",
      "c.k: expected string, received number",
    ]);
    assert.deepEqual(issuesOf(schema, []), ["(root): expected object, received array"]);
    assert.deepEqual(issuesOf(schema, null), ["(root): expected object, received null"]);
  });

  test("a strict object refuses unknown keys, naming the known ones; a lenient one drops them", () => {
    const shape = { known: v.string(), maybe: v.number().optional() };
    const result = v.strictObject(shape).safeParse({ known: "x", typo: 1 });
    assert.equal(result.success, false);
    assert.deepEqual(!result.success && result.issues[0], { path: [], message: "unknown key typo", unknownKeys: { keys: ["typo"], known: ["known", "maybe"] } });
    assert.deepEqual(v.object(shape).safeParse({ known: "x", extra: true }), { success: true, data: { known: "x" } });
  });

  test("refinements and conversions: their message is the issue, their result the value", () => {
    const even = v.number().refine((n) => (n % 2 === 0 ? undefined : "must be even"));
    assert.deepEqual(issuesOf(even, 3), ["(root): must be even"]);
    const parsed = v.numberOrString().transform((x) => {
      if (typeof x === "number") return x;
      if (!/^\d+s$/.test(x)) throw new Error(`cannot read ${x}`);
      return Number(x.slice(0, -1)) * 1000;
    });
    assert.deepEqual(parsed.safeParse("3s"), { success: true, data: 3000 });
    assert.deepEqual(issuesOf(parsed, "soon"), ["(root): cannot read soon"]);
    assert.deepEqual(issuesOf(parsed, true), ["(root): expected number or string, received boolean"]);
    assert.deepEqual(issuesOf(v.array(v.string(), { min: 1 }), []), ["(root): must have at least 1 item"]);
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
    const issues = (detail as { issues: v.Issue[] }).issues.map((i) => v.formatIssue(i));
    assert.deepEqual(issues, ["layers.0.mediaType: invalid media type", "layers.0.digest: invalid digest", "layers.0.size: must be at least 0"]);
  });
});
