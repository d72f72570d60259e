import assert from "node:assert/strict";
import { test } from "node:test";
import { distributionHandler } from "../../src/metrics/distribution.js";

test("distribution's route names for request paths (the last keyword decides; other paths have none)", () => {
  const cases: [string, string | undefined][] = [
    ["/v2/", "base"],
    ["/v2", "base"],
    ["/v2/_catalog", "catalog"],
    ["/v2/cvi/ubuntu/manifests/latest", "manifest"],
    ["/v2/vi/ns/disk/tags/list", "tags"],
    ["/v2/cvi/x/blobs/uploads/", "blob_upload"],
    ["/v2/cvi/x/blobs/uploads", "blob_upload"],
    ["/v2/cvi/x/blobs/uploads/6f0c1a2e-uuid", "blob_upload_chunk"],
    ["/v2/cvi/x/blobs/sha256:abc", "blob"],
    ["/v2/cvi/x/referrers/sha256:abc", "referrers"],
    // Repository names may contain the keywords as components.
    ["/v2/x/blobs/y/manifests/v1", "manifest"],
    ["/v2/x/manifests/y/blobs/sha256:abc", "blob"],
    ["/v2/x/manifests/y/blobs/uploads/", "blob_upload"],
    ["/v2/x/blobs/uploads/y/tags/list", "tags"],
    ["/healthz", undefined],
    ["/metrics", undefined],
    ["/api/v1/gc", undefined],
    ["/auth/token", undefined],
    ["/v2/cvi/x/unknown", undefined],
  ];
  for (const [path, handler] of cases) assert.equal(distributionHandler(path), handler, path);
});
