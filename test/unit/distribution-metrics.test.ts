import assert from "node:assert/strict";
import { test } from "node:test";
import type { Logger } from "pino";
import { routeDescriptors } from "../../src/http/app.js";
import type { RouteDeps } from "../../src/http/routes/context.js";
import { RouteTable, isDistributionRoute } from "../../src/http/route-table.js";
import type { Operations } from "../../src/gc/operations.js";

/** The route table alone (handlers are never called here). */
function table(): RouteTable {
  const deps = { registry: { uploads: {}, blobs: {} }, canRead: () => () => true } as unknown as RouteDeps;
  return new RouteTable(routeDescriptors(deps, {} as Operations, {} as Logger));
}

test("the route table names each request's route: distribution's names for its routes, ours for the rest", () => {
  const routes = table();
  const cases: [string, string, string | undefined][] = [
    ["GET", "/v2/", "base"],
    ["GET", "/v2", "base"],
    ["GET", "/v2/_catalog", "catalog"],
    ["GET", "/v2/cvi/ubuntu/manifests/latest", "manifest"],
    ["HEAD", "/v2/cvi/ubuntu/manifests/latest", "manifest"],
    ["PUT", "/v2/cvi/ubuntu/manifests/latest", "manifest"],
    ["GET", "/v2/vi/ns/disk/tags/list", "tags"],
    ["POST", "/v2/cvi/x/blobs/uploads/", "blob_upload"],
    ["POST", "/v2/cvi/x/blobs/uploads", "blob_upload"],
    ["PATCH", "/v2/cvi/x/blobs/uploads/6f0c1a2e-uuid", "blob_upload_chunk"],
    ["GET", "/v2/cvi/x/blobs/sha256:abc", "blob"],
    ["GET", "/v2/cvi/x/referrers/sha256:abc", "referrers"],
    // Repository names may contain the keywords as components.
    ["GET", "/v2/x/blobs/y/manifests/v1", "manifest"],
    ["GET", "/v2/x/manifests/y/blobs/sha256:abc", "blob"],
    ["POST", "/v2/x/manifests/y/blobs/uploads/", "blob_upload"],
    ["GET", "/v2/x/blobs/uploads/y/tags/list", "tags"],
    ["GET", "/healthz", "healthz"],
    ["GET", "/metrics", "metrics"],
    ["POST", "/api/v1/gc", "gc"],
    ["GET", "/api/v1/images/cvi/x", "image"],
    ["GET", "/v2/cvi/x/unknown", undefined],
    ["DELETE", "/v2/cvi/x/tags/list", undefined],
  ];
  for (const [method, path, name] of cases) assert.equal(routes.match(method, path)?.name, name, `${method} ${path}`);
  for (const name of ["base", "catalog", "manifest", "tags", "blob", "blob_upload", "blob_upload_chunk", "referrers"] as const) {
    assert.ok(isDistributionRoute(name), name);
  }
  assert.equal(isDistributionRoute("healthz"), false);
});

test("every route has an access rule; without auth, only probes and metrics are public (the token service adds its own two)", () => {
  const routes = table().routes;
  const publicNames = routes.filter((r) => r.access === "public").map((r) => r.name).sort();
  assert.deepEqual(publicNames, ["healthz", "metrics", "readyz"]);
  for (const r of routes.filter((r) => r.path.startsWith("/api/v1/") && !r.path.startsWith("/api/v1/images"))) assert.equal(r.access, "admin", r.name);
  assert.deepEqual(table().allowedOn("/v2/cvi/x/manifests/latest"), ["GET", "HEAD", "PUT", "DELETE"]);
});
