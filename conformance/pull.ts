import {
  ACCEPT_MANIFESTS,
  expect,
  expectBody,
  expectContentType,
  expectError,
  expectHeader,
  expectNotFound,
  expectRejected,
  expectStatus,
  imageManifest,
  NOT_A_REFERENCE,
  sha256,
  type Manifest,
} from "./checks.js";
import { need, type AddCheck, type Context } from "./context.js";

/** Pull: the registry serves manifests and blobs by tag and digest, and says 404 for what it lacks. */
export function pullChecks(ctx: Context, add: AddCheck): void {
  const { client } = ctx;
  const repo = ctx.repo("pull");
  const tag = "pull-tag";
  let image: Manifest | undefined;
  let untagged: Manifest | undefined;
  const img = () => need(image, "set-up could not push the image to pull");
  const layer = () => img().blobs[1]!;
  const get = (path: string, headers: Record<string, string> = {}) => client.request(path, { headers });
  const head = (path: string, headers: Record<string, string> = {}) => client.request(path, { method: "HEAD", headers });
  const accept = { Accept: ACCEPT_MANIFESTS };

  add("GET /v2/ returns 200 with Docker-Distribution-API-Version", async () => {
    const res = await get("/v2/");
    expectStatus(res, 200);
    expectHeader(res, "docker-distribution-api-version", "registry/2.0");
  });
  add("set-up: push an image to pull", async () => {
    const m = imageManifest({ layerSize: 4096 });
    await ctx.push.image(repo, m, tag);
    image = m;
    const second = imageManifest();
    await ctx.push.image(repo, second, second.digest);
    untagged = second;
  });

  // ---- manifests
  add("HEAD manifest by tag returns 200 with digest and length", async () => {
    const res = await head(`/v2/${repo}/manifests/${tag}`, accept);
    expectStatus(res, 200);
    expectHeader(res, "docker-content-digest", img().digest);
    expectHeader(res, "content-length", String(img().size));
  });
  add("HEAD manifest by digest returns 200 with digest and length", async () => {
    const res = await head(`/v2/${repo}/manifests/${img().digest}`, accept);
    expectStatus(res, 200);
    expectHeader(res, "docker-content-digest", img().digest);
    expectHeader(res, "content-length", String(img().size));
  });
  add("GET manifest by tag returns the pushed bytes and media type", async () => {
    const res = await get(`/v2/${repo}/manifests/${tag}`, accept);
    expectStatus(res, 200);
    expectContentType(res, img().mediaType);
    expectHeader(res, "docker-content-digest", img().digest);
    expectBody(res, img().body, "manifest");
  });
  add("GET manifest by digest returns the pushed bytes, media type and digest", async () => {
    const res = await get(`/v2/${repo}/manifests/${img().digest}`, accept);
    expectStatus(res, 200);
    expectContentType(res, img().mediaType);
    expectHeader(res, "docker-content-digest", img().digest);
    expect(sha256(res.body) === img().digest, `manifest body hashes to ${sha256(res.body)}, not the requested ${img().digest}`);
  });
  add("GET manifest pushed by digest only returns its bytes", async () => {
    const m = need(untagged, "set-up could not push the untagged manifest");
    const res = await get(`/v2/${repo}/manifests/${m.digest}`, accept);
    expectStatus(res, 200);
    expectContentType(res, m.mediaType);
    expectBody(res, m.body, "manifest");
  });
  add("GET unknown manifest returns 404 MANIFEST_UNKNOWN", async () => {
    expectError(await get(`/v2/${repo}/manifests/no-such-tag`, accept), [404], ["MANIFEST_UNKNOWN"]);
  });
  add("GET manifest by unknown digest returns 404 MANIFEST_UNKNOWN", async () => {
    expectError(await get(`/v2/${repo}/manifests/${sha256("no such manifest")}`, accept), [404], ["MANIFEST_UNKNOWN"]);
  });
  add("HEAD unknown manifest returns 404", async () => {
    expectStatus(await head(`/v2/${repo}/manifests/${sha256("no such manifest")}`, accept), 404);
  });
  add("GET manifest by a reference that is neither a tag nor a digest returns 404 MANIFEST_UNKNOWN", async () => {
    return expectNotFound(await get(`/v2/${repo}/manifests/${NOT_A_REFERENCE}`, accept), ["MANIFEST_UNKNOWN"]);
  });
  add("HEAD manifest by a reference that is neither a tag nor a digest returns 404", async () => {
    return expectNotFound(await head(`/v2/${repo}/manifests/${NOT_A_REFERENCE}`, accept), ["MANIFEST_UNKNOWN"]);
  });
  add("GET manifest in an unknown repository returns 404", async () => {
    expectError(await get(`/v2/${ctx.unknownRepo}/manifests/latest`, accept), [404], ["NAME_UNKNOWN", "MANIFEST_UNKNOWN"]);
  });
  add("GET manifest with a malformed digest returns 400 or 404", async () => {
    // The upstream suite's "sha256:totallywrong": neither a tag nor a valid digest.
    const res = await get(`/v2/${repo}/manifests/sha256:totallywrong`, accept);
    return expectRejected(res, ["DIGEST_INVALID", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "TAG_INVALID"]);
  });

  // ---- blobs
  add("HEAD blob returns 200 with digest and length", async () => {
    const res = await head(`/v2/${repo}/blobs/${layer().digest}`);
    expectStatus(res, 200);
    expectHeader(res, "docker-content-digest", layer().digest);
    expectHeader(res, "content-length", String(layer().data.length));
  });
  add("GET blob returns the exact bytes and Docker-Content-Digest", async () => {
    const res = await get(`/v2/${repo}/blobs/${layer().digest}`);
    expectStatus(res, 200);
    expectHeader(res, "docker-content-digest", layer().digest);
    expectBody(res, layer().data, "blob");
  });
  add("GET blob with Range returns 206 with Content-Range", async () => {
    const size = layer().data.length;
    const res = await get(`/v2/${repo}/blobs/${layer().digest}`, { Range: "bytes=100-1123" });
    expectStatus(res, 206);
    expectHeader(res, "content-range", `bytes 100-1123/${size}`);
    expectBody(res, layer().data.subarray(100, 1124), "range");
  });
  add("GET blob with an unsatisfiable Range returns 416", async () => {
    const size = layer().data.length;
    const res = await get(`/v2/${repo}/blobs/${layer().digest}`, { Range: `bytes=${size + 100}-${size + 200}` });
    // Only the status matters here: a 416's body is not the blob (RFC 9110 §15.5.17).
    expectStatus(res, 416);
  });
  add("GET unknown blob returns 404 BLOB_UNKNOWN", async () => {
    expectError(await get(`/v2/${repo}/blobs/${sha256("no such blob")}`), [404], ["BLOB_UNKNOWN"]);
  });
  add("HEAD unknown blob returns 404", async () => {
    expectStatus(await head(`/v2/${repo}/blobs/${sha256("no such blob")}`), 404);
  });
  add("GET blob in an unknown repository returns 404", async () => {
    expectError(await get(`/v2/${ctx.unknownRepo}/blobs/${layer().digest}`), [404], ["BLOB_UNKNOWN", "NAME_UNKNOWN"]);
  });
  add("GET blob with a malformed digest returns 400 or 404 with an error", async () => {
    return expectRejected(await get(`/v2/${repo}/blobs/sha256:totallywrong`), ["DIGEST_INVALID", "BLOB_UNKNOWN", "NAME_INVALID"]);
  });
}
