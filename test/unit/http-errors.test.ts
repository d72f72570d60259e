import assert from "node:assert/strict";
import { test } from "node:test";
import { errorBody, toRegistryError } from "../../src/http/errors.js";
import { ERROR_CODES, RegistryError } from "../../src/oci/index.js";

test("out of file descriptors is a 503 UNAVAILABLE with Retry-After, never a 500", () => {
  for (const code of ["EMFILE", "ENFILE"]) {
    const error = toRegistryError(Object.assign(new Error(`${code}: too many open files, open '/x'`), { code }));
    assert.equal(error.status, 503, code);
    assert.equal(error.wireCode, "UNAVAILABLE");
    assert.match(error.headers["Retry-After"] ?? "", /^\d+$/);
  }
  assert.equal(toRegistryError(new Error("boom")).status, 500);
});

test("statuses come only from the error registry; variants answer with the spec code", () => {
  assert.equal(new RegistryError("RANGE_INVALID").status, 416);
  assert.equal(new RegistryError("BODY_TOO_LARGE").status, 413);
  assert.equal(new RegistryError("BODY_TOO_LARGE").toJSON().code, "SIZE_INVALID");
  assert.equal(new RegistryError("ROUTE_UNKNOWN").toJSON().code, "UNSUPPORTED");
  for (const [code, entry] of Object.entries(ERROR_CODES)) assert.ok(entry.status >= 400 && entry.status < 600, code);
});

test("error bodies are bounded: long lists are cut with a count, long messages clipped", () => {
  const issues = Array.from({ length: 24_000 }, (_, i) => ({ path: ["layers", i, "digest"], message: "invalid digest" }));
  const body = errorBody(new RegistryError("MANIFEST_INVALID", "x".repeat(100_000), { detail: { issues } }));
  const text = JSON.stringify(body);
  assert.ok(text.length < 32 * 1024, `${text.length} bytes`);
  const detail = body.errors[0].detail as { issues: unknown[] };
  assert.deepEqual(detail.issues[0], issues[0]);
  assert.equal(detail.issues.at(-1), `… ${24_000 - (detail.issues.length - 1)} more`);
  assert.ok(body.errors[0].message.length < 3000);
  const small = errorBody(new RegistryError("BLOB_UNKNOWN", undefined, { detail: { digest: "sha256:abc" } }));
  assert.deepEqual(small, { errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown to registry", detail: { digest: "sha256:abc" } }] });
});
