import { randomBytes } from "node:crypto";
import {
  ALL_MANIFESTS,
  CheckFailed,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  OCI_INDEX,
  OCI_MANIFEST,
  Pusher,
  blob,
  expect,
  expectError,
  expectHeader,
  expectStatus,
  prepareImage,
  sha256,
  type Image,
} from "./checks.js";
import { RegistryClient, type Credentials } from "./http.js";

export type Workflow = "pull" | "push" | "discovery" | "management";
export const WORKFLOWS: Workflow[] = ["pull", "push", "discovery", "management"];

export interface ConformanceOptions {
  url: string;
  namespace?: string;
  credentials?: Credentials;
  only?: Workflow[];
}

export interface CheckResult {
  workflow: Workflow;
  name: string;
  ok: boolean;
  reason?: string;
}

interface Check {
  workflow: Workflow;
  name: string;
  run: () => Promise<void>;
}

/**
 * The OCI Distribution-spec v1.1 conformance checks, modelled on the upstream suite's four
 * workflows. Checks run in order; a check that depends on an earlier set-up step fails with the
 * set-up's reason instead of cascading into confusing errors.
 */
function buildChecks(client: RegistryClient, ns: string): Check[] {
  const push = new Pusher(client);
  const checks: Check[] = [];
  const add = (workflow: Workflow, name: string, run: () => Promise<void>) => checks.push({ workflow, name, run });
  const get = (path: string, headers: Record<string, string> = {}) => client.request(path, { headers });
  const head = (path: string, headers: Record<string, string> = {}) => client.request(path, { method: "HEAD", headers });
  const del = (path: string) => client.request(path, { method: "DELETE" });
  const text = async (res: Response) => Buffer.from(await res.arrayBuffer());

  // ---------------------------------------------------------------- pull
  const pullRepo = `${ns}/pull`;
  let pulled: Image | undefined;
  const pullImage = () => {
    if (!pulled) throw new CheckFailed("set-up failed: could not push the image to pull");
    return pulled;
  };
  add("pull", "GET /v2/ returns 200 with Docker-Distribution-API-Version", async () => {
    const res = await get("/v2/");
    expectStatus(res, 200);
    expectHeader(res, "docker-distribution-api-version", "registry/2.0");
  });
  add("pull", "set-up: push an image to pull", async () => {
    const img = await prepareImage(push, pullRepo);
    const res = await push.manifest(pullRepo, "pull-tag", img.body, OCI_MANIFEST);
    expectStatus(res, 201);
    pulled = img;
  });
  add("pull", "HEAD manifest by tag returns 200 with digest and length", async () => {
    const res = await head(`/v2/${pullRepo}/manifests/pull-tag`, { Accept: OCI_MANIFEST });
    expectStatus(res, 200);
    expectHeader(res, "docker-content-digest", pullImage().digest);
    expectHeader(res, "content-length", String(pullImage().size));
  });
  add("pull", "HEAD manifest by digest returns 200", async () => {
    const res = await head(`/v2/${pullRepo}/manifests/${pullImage().digest}`, { Accept: OCI_MANIFEST });
    expectStatus(res, 200);
  });
  add("pull", "GET manifest by tag returns the pushed bytes and media type", async () => {
    const res = await get(`/v2/${pullRepo}/manifests/pull-tag`, { Accept: OCI_MANIFEST });
    expectStatus(res, 200);
    expectHeader(res, "content-type", new RegExp(`^${OCI_MANIFEST.replace(/[.+]/g, "\\$&")}`));
    expect((await res.text()) === pullImage().body, "manifest bytes differ from what was pushed");
  });
  add("pull", "GET manifest by digest returns Docker-Content-Digest", async () => {
    const res = await get(`/v2/${pullRepo}/manifests/${pullImage().digest}`, { Accept: OCI_MANIFEST });
    expectStatus(res, 200);
    expectHeader(res, "docker-content-digest", pullImage().digest);
    expect(sha256(await text(res)) === pullImage().digest, "manifest body does not match its digest");
  });
  add("pull", "HEAD blob returns 200 with length", async () => {
    const res = await head(`/v2/${pullRepo}/blobs/${pullImage().layer.digest}`);
    expectStatus(res, 200);
    expectHeader(res, "content-length", String(pullImage().layer.data.length));
  });
  add("pull", "GET blob returns the exact bytes", async () => {
    const res = await get(`/v2/${pullRepo}/blobs/${pullImage().layer.digest}`);
    expectStatus(res, 200);
    expect((await text(res)).equals(pullImage().layer.data), "blob bytes differ");
  });
  add("pull", "GET blob with Range returns 206 with Content-Range", async () => {
    const res = await get(`/v2/${pullRepo}/blobs/${pullImage().layer.digest}`, { Range: "bytes=100-199" });
    expectStatus(res, 206);
    expectHeader(res, "content-range", `bytes 100-199/${pullImage().layer.data.length}`);
    expect((await text(res)).equals(pullImage().layer.data.subarray(100, 200)), "range bytes differ");
  });
  add("pull", "GET blob with an unsatisfiable Range returns 416", async () => {
    const res = await get(`/v2/${pullRepo}/blobs/${pullImage().layer.digest}`, { Range: "bytes=99999-100000" });
    expectStatus(res, 416);
    await res.arrayBuffer();
  });
  add("pull", "GET unknown manifest returns 404 MANIFEST_UNKNOWN", async () => {
    await expectError(await get(`/v2/${pullRepo}/manifests/no-such-tag`), [404], ["MANIFEST_UNKNOWN"]);
  });
  add("pull", "HEAD unknown manifest returns 404", async () => {
    expectStatus(await head(`/v2/${pullRepo}/manifests/${sha256("no such manifest")}`), 404);
  });
  add("pull", "GET unknown blob returns 404 BLOB_UNKNOWN", async () => {
    await expectError(await get(`/v2/${pullRepo}/blobs/${sha256("no such blob")}`), [404], ["BLOB_UNKNOWN"]);
  });
  add("pull", "HEAD unknown blob returns 404", async () => {
    expectStatus(await head(`/v2/${pullRepo}/blobs/${sha256("no such blob")}`), 404);
  });
  add("pull", "GET manifest in an unknown repository returns 404", async () => {
    await expectError(await get(`/v2/${ns}/no-such-repo/manifests/latest`), [404], ["NAME_UNKNOWN", "MANIFEST_UNKNOWN"]);
  });
  add("pull", "GET blob with a malformed digest returns 400 DIGEST_INVALID", async () => {
    await expectError(await get(`/v2/${pullRepo}/blobs/sha256:totallywrong`), [400], ["DIGEST_INVALID"]);
  });

  // ---------------------------------------------------------------- push
  const pushRepo = `${ns}/push`;
  add("push", "POST opens an upload session with 202 and Location", async () => {
    const res = await client.request(`/v2/${pushRepo}/blobs/uploads/`, { method: "POST" });
    expectStatus(res, 202);
    expectHeader(res, "location");
  });
  add("push", "monolithic PUT returns 201 with Location and Docker-Content-Digest", async () => {
    const b = blob(4096);
    const res = await push.monolithic(pushRepo, b.data);
    expectStatus(res, 201);
    expectHeader(res, "location");
    expectHeader(res, "docker-content-digest", b.digest);
    const get2 = await get(`/v2/${pushRepo}/blobs/${b.digest}`);
    expect((await text(get2)).equals(b.data), "pushed blob reads back different");
  });
  add("push", "one-request POST ?digest= with body returns 201", async () => {
    const b = blob(3000);
    const res = await client.request(`/v2/${pushRepo}/blobs/uploads/?digest=${b.digest}`, {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream", "Content-Length": String(b.data.length) },
      body: b.data,
    });
    expectStatus(res, 201);
    expectHeader(res, "location");
  });
  add("push", "streamed PATCH then PUT completes the blob", async () => {
    const b = blob(10_000);
    const post = await client.request(`/v2/${pushRepo}/blobs/uploads/`, { method: "POST" });
    expectStatus(post, 202);
    const patch = await client.request(client.resolve(expectHeader(post, "location")), {
      method: "PATCH",
      headers: { "Content-Type": "application/octet-stream" },
      body: b.data,
    });
    expectStatus(patch, 202);
    expectHeader(patch, "range", `0-${b.data.length - 1}`);
    const location = client.resolve(expectHeader(patch, "location"));
    const put = await client.request(`${location}${location.includes("?") ? "&" : "?"}digest=${b.digest}`, { method: "PUT" });
    expectStatus(put, 201);
    expect((await text(await get(`/v2/${pushRepo}/blobs/${b.digest}`))).equals(b.data), "streamed blob differs");
  });

  // Chunked upload: one session walked through several checks.
  const chunked = blob(30_000);
  const parts = [chunked.data.subarray(0, 10_000), chunked.data.subarray(10_000, 20_000), chunked.data.subarray(20_000)];
  let chunkLocation: string | undefined;
  const chunkSession = () => {
    if (!chunkLocation) throw new CheckFailed("set-up failed: no chunked upload session");
    return chunkLocation;
  };
  const patchChunk = (location: string, data: Uint8Array, start: number) =>
    client.request(location, {
      method: "PATCH",
      headers: { "Content-Type": "application/octet-stream", "Content-Range": `${start}-${start + data.length - 1}`, "Content-Length": String(data.length) },
      body: data,
    });
  /** A fresh session holding the first chunk; each probe gets its own so one refusal cannot spoil the next. */
  const sessionWithFirstChunk = async () => {
    const post = await client.request(`/v2/${pushRepo}/blobs/uploads/`, { method: "POST" });
    expectStatus(post, 202);
    const res = await patchChunk(client.resolve(expectHeader(post, "location")), parts[0]!, 0);
    expectStatus(res, 202);
    return { res, location: client.resolve(expectHeader(res, "location")) };
  };
  add("push", "chunked PATCH returns 202 with Location and Range", async () => {
    const { res, location } = await sessionWithFirstChunk();
    expectHeader(res, "range", "0-9999");
    chunkLocation = location;
  });
  add("push", "second chunk in order returns 202 with the grown Range", async () => {
    const res = await patchChunk(chunkSession(), parts[1]!, 10_000);
    expectStatus(res, 202);
    expectHeader(res, "range", "0-19999");
    chunkLocation = client.resolve(expectHeader(res, "location"));
  });
  add("push", "final PUT with the last chunk returns 201", async () => {
    const location = chunkSession();
    const res = await client.request(`${location}${location.includes("?") ? "&" : "?"}digest=${chunked.digest}`, {
      method: "PUT",
      headers: { "Content-Type": "application/octet-stream", "Content-Range": "20000-29999", "Content-Length": "10000" },
      body: parts[2],
    });
    expectStatus(res, 201);
    expectHeader(res, "docker-content-digest", chunked.digest);
  });
  add("push", "chunked blob reads back byte for byte", async () => {
    const res = await get(`/v2/${pushRepo}/blobs/${chunked.digest}`);
    expectStatus(res, 200);
    expect((await text(res)).equals(chunked.data), "chunked blob differs");
  });
  add("push", "GET upload status after a chunk returns 204 with Range", async () => {
    const { location } = await sessionWithFirstChunk();
    const res = await get(location);
    expectStatus(res, 204);
    expectHeader(res, "range", "0-9999");
    expectHeader(res, "location");
  });
  add("push", "out-of-order chunk returns 416", async () => {
    const { location } = await sessionWithFirstChunk();
    const res = await patchChunk(location, parts[2]!, 20_000);
    expectStatus(res, 416);
    await res.arrayBuffer();
  });
  add("push", "repeated chunk returns 416", async () => {
    const { location } = await sessionWithFirstChunk();
    const res = await patchChunk(location, parts[0]!, 0);
    expectStatus(res, 416);
    await res.arrayBuffer();
  });
  add("push", "PUT with a wrong digest returns 400 DIGEST_INVALID", async () => {
    const b = blob(500);
    await expectError(await push.monolithic(pushRepo, b.data, sha256("something else")), [400], ["DIGEST_INVALID"]);
  });
  let cancelled: string | undefined;
  add("push", "DELETE of an upload session returns 204", async () => {
    const post = await client.request(`/v2/${pushRepo}/blobs/uploads/`, { method: "POST" });
    expectStatus(post, 202);
    cancelled = client.resolve(expectHeader(post, "location"));
    expectStatus(await del(cancelled), 204);
  });
  add("push", "a cancelled upload session is unknown (404 BLOB_UPLOAD_UNKNOWN)", async () => {
    if (!cancelled) throw new CheckFailed("set-up failed: no cancelled session");
    await expectError(await get(cancelled), [404], ["BLOB_UPLOAD_UNKNOWN"]);
  });
  add("push", "PUT to an unknown upload session returns 404 BLOB_UPLOAD_UNKNOWN", async () => {
    const res = await client.request(`/v2/${pushRepo}/blobs/uploads/00000000-0000-4000-8000-000000000000?digest=${sha256("x")}`, { method: "PUT", body: "x" });
    await expectError(res, [404], ["BLOB_UPLOAD_UNKNOWN"]);
  });

  const mountSource = `${ns}/mount-source`;
  const mountBlob = blob(1500);
  add("push", "mount with from returns 201 with Location and Docker-Content-Digest", async () => {
    await push.blob(mountSource, mountBlob.data);
    const res = await client.request(`/v2/${ns}/mount-target/blobs/uploads/?mount=${mountBlob.digest}&from=${mountSource}`, { method: "POST" });
    expectStatus(res, 201);
    expectHeader(res, "location");
    expectHeader(res, "docker-content-digest", mountBlob.digest);
  });
  add("push", "a mounted blob is readable in the target repository", async () => {
    const res = await get(`/v2/${ns}/mount-target/blobs/${mountBlob.digest}`);
    expectStatus(res, 200);
    expect((await text(res)).equals(mountBlob.data), "mounted blob differs");
  });
  add("push", "automatic mount without from returns 201", async () => {
    const res = await client.request(`/v2/${ns}/mount-auto/blobs/uploads/?mount=${mountBlob.digest}`, { method: "POST" });
    expectStatus(res, 201);
  });
  add("push", "mount from a repository without the blob returns 202 (upload session)", async () => {
    const res = await client.request(`/v2/${ns}/mount-none/blobs/uploads/?mount=${sha256("never pushed")}&from=${mountSource}`, { method: "POST" });
    expectStatus(res, 202);
    expectHeader(res, "location");
  });

  const manifestRepo = `${ns}/manifests`;
  const images: Record<string, Image> = {};
  add("push", "PUT OCI image manifest returns 201 with Location and Docker-Content-Digest", async () => {
    const img = await prepareImage(push, manifestRepo);
    const res = await push.manifest(manifestRepo, "oci", img.body, OCI_MANIFEST);
    expectStatus(res, 201);
    expectHeader(res, "location");
    expectHeader(res, "docker-content-digest", img.digest);
    images.oci = img;
  });
  add("push", "PUT Docker schema2 manifest returns 201", async () => {
    const img = await prepareImage(push, manifestRepo, { docker: true });
    const res = await push.manifest(manifestRepo, "docker", img.body, DOCKER_MANIFEST);
    expectStatus(res, 201);
    images.docker = img;
  });
  add("push", "PUT OCI index returns 201", async () => {
    const child = images.oci ?? (await prepareImage(push, manifestRepo));
    if (!images.oci) expectStatus(await push.manifest(manifestRepo, child.digest, child.body, OCI_MANIFEST), 201);
    const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: child.digest, size: child.size, platform: { architecture: "amd64", os: "linux" } }] });
    expectStatus(await push.manifest(manifestRepo, "index", index, OCI_INDEX), 201);
  });
  add("push", "PUT Docker manifest list returns 201", async () => {
    const child = images.docker;
    if (!child) throw new CheckFailed("set-up failed: no Docker manifest");
    const list = JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ mediaType: DOCKER_MANIFEST, digest: child.digest, size: child.size, platform: { architecture: "amd64", os: "linux" } }] });
    expectStatus(await push.manifest(manifestRepo, "list", list, DOCKER_LIST), 201);
  });
  add("push", "GET returns each manifest kind with its media type", async () => {
    for (const [tag, type] of [["oci", OCI_MANIFEST], ["docker", DOCKER_MANIFEST], ["index", OCI_INDEX], ["list", DOCKER_LIST]] as const) {
      const res = await get(`/v2/${manifestRepo}/manifests/${tag}`, { Accept: ALL_MANIFESTS });
      expectStatus(res, 200);
      expectHeader(res, "content-type", new RegExp(`^${type.replace(/[.+]/g, "\\$&")}`));
      await res.arrayBuffer();
    }
  });
  add("push", "PUT manifest by digest returns 201", async () => {
    const img = await prepareImage(push, manifestRepo);
    const res = await push.manifest(manifestRepo, img.digest, img.body, OCI_MANIFEST);
    expectStatus(res, 201);
    expectHeader(res, "docker-content-digest", img.digest);
  });
  add("push", "artifact manifest with subject returns OCI-Subject", async () => {
    const subject = images.oci;
    if (!subject) throw new CheckFailed("set-up failed: no subject manifest");
    const img = await prepareImage(push, manifestRepo, {
      artifactType: "application/vnd.conformance.test",
      subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.size },
    });
    const res = await push.manifest(manifestRepo, img.digest, img.body, OCI_MANIFEST);
    expectStatus(res, 201);
    expectHeader(res, "oci-subject", subject.digest);
  });
  add("push", "PUT manifest referencing an unknown blob returns 400 MANIFEST_BLOB_UNKNOWN", async () => {
    const img = await prepareImage(push, manifestRepo);
    const bad = img.body.replace(img.layer.digest, sha256("layer that was never pushed"));
    await expectError(await push.manifest(manifestRepo, "unknown-blob", bad, OCI_MANIFEST), [400, 404], ["MANIFEST_BLOB_UNKNOWN"]);
  });
  add("push", "PUT malformed manifest returns 400 MANIFEST_INVALID", async () => {
    await expectError(await push.manifest(manifestRepo, "malformed", "{not json", OCI_MANIFEST), [400], ["MANIFEST_INVALID"]);
  });
  add("push", "PUT manifest with an invalid tag returns 400", async () => {
    const img = images.oci;
    if (!img) throw new CheckFailed("set-up failed: no manifest");
    await expectError(await push.manifest(manifestRepo, "-invalid-tag", img.body, OCI_MANIFEST), [400, 404], ["TAG_INVALID", "MANIFEST_INVALID", "NAME_INVALID"]);
  });
  add("push", "POST to an invalid repository name returns an error", async () => {
    const res = await client.request(`/v2/${ns}/Invalid_Name/blobs/uploads/`, { method: "POST" });
    expect(res.status === 400 || res.status === 404, `expected 400 or 404, got ${res.status}`);
    await res.arrayBuffer();
  });

  // ---------------------------------------------------------------- discovery
  const discoRepo = `${ns}/discovery`;
  const tags = ["v10", "v2", "a-1", "latest", "1.0", "v1"];
  let discoImage: Image | undefined;
  const disco = () => {
    if (!discoImage) throw new CheckFailed("set-up failed: no tagged image");
    return discoImage;
  };
  const tagsOf = async (res: Response) => ((await res.json()) as { tags?: string[] }).tags ?? [];
  add("discovery", "set-up: push an image under several tags", async () => {
    const img = await prepareImage(push, discoRepo);
    for (const t of tags) expectStatus(await push.manifest(discoRepo, t, img.body, OCI_MANIFEST), 201);
    discoImage = img;
  });
  add("discovery", "tags list returns every tag", async () => {
    disco();
    const res = await get(`/v2/${discoRepo}/tags/list`);
    expectStatus(res, 200);
    const got = await tagsOf(res);
    expect([...got].sort().join() === [...tags].sort().join(), `got ${got.join(",")}`);
  });
  add("discovery", "tags list is sorted lexically", async () => {
    disco();
    const got = await tagsOf(await get(`/v2/${discoRepo}/tags/list`));
    expect(got.join() === [...tags].sort().join(), `not sorted: ${got.join(",")}`);
  });
  add("discovery", "tags list n limits the page", async () => {
    disco();
    const got = await tagsOf(await get(`/v2/${discoRepo}/tags/list?n=2`));
    expect(got.join() === [...tags].sort().slice(0, 2).join(), `got ${got.join(",")}`);
  });
  add("discovery", "tags list Link header points at the next page", async () => {
    disco();
    const res = await get(`/v2/${discoRepo}/tags/list?n=2`);
    const link = expectHeader(res, "link", /<[^>]*\/tags\/list\?[^>]*>;\s*rel="next"/);
    await res.arrayBuffer();
    const next = /<([^>]+)>/.exec(link)![1]!;
    const page2 = await tagsOf(await get(next));
    expect(page2.join() === [...tags].sort().slice(2, 4).join(), `next page ${page2.join(",")}`);
  });
  add("discovery", "tags list last continues after the given tag", async () => {
    disco();
    const sorted = [...tags].sort();
    const got = await tagsOf(await get(`/v2/${discoRepo}/tags/list?n=10&last=${sorted[2]}`));
    expect(got.join() === sorted.slice(3).join(), `got ${got.join(",")}`);
  });
  add("discovery", "tags list of an unknown repository returns 404 NAME_UNKNOWN", async () => {
    await expectError(await get(`/v2/${ns}/never-pushed/tags/list`), [404], ["NAME_UNKNOWN"]);
  });
  add("discovery", "catalog lists the repository", async () => {
    disco();
    // The catalog may be large on a shared registry: page through it.
    let path: string | null = "/v2/_catalog?n=1000";
    const seen: string[] = [];
    for (let pages = 0; path && pages < 100; pages++) {
      const res: Response = await get(path);
      expectStatus(res, 200);
      seen.push(...(((await res.json()) as { repositories?: string[] }).repositories ?? []));
      const link = res.headers.get("link");
      path = link ? /<([^>]+)>/.exec(link)![1]! : null;
    }
    expect(seen.includes(discoRepo), `${discoRepo} missing from the catalog`);
  });
  add("discovery", "catalog n limits the page", async () => {
    const res = await get("/v2/_catalog?n=1");
    expectStatus(res, 200);
    const repos = ((await res.json()) as { repositories?: string[] }).repositories ?? [];
    expect(repos.length === 1, `expected 1 repository, got ${repos.length}`);
  });
  const refTypeA = "application/vnd.conformance.a";
  const refTypeB = "application/vnd.conformance.b";
  const referrers: Record<string, Image> = {};
  add("discovery", "set-up: push two referrers of the image", async () => {
    const subject = disco();
    for (const type of [refTypeA, refTypeB]) {
      const img = await prepareImage(push, discoRepo, { artifactType: type, subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.size } });
      expectStatus(await push.manifest(discoRepo, img.digest, img.body, OCI_MANIFEST), 201);
      referrers[type] = img;
    }
  });
  const referrersOf = async (query = "") => {
    const res = await get(`/v2/${discoRepo}/referrers/${disco().digest}${query}`);
    expectStatus(res, 200);
    expectHeader(res, "content-type", new RegExp(`^${OCI_INDEX.replace(/[.+]/g, "\\$&")}`));
    const index = (await res.clone().json()) as { schemaVersion?: number; mediaType?: string; manifests?: { digest: string; artifactType?: string }[] };
    return { res, index };
  };
  add("discovery", "referrers returns an OCI image index", async () => {
    const { index } = await referrersOf();
    expect(index.schemaVersion === 2 && index.mediaType === OCI_INDEX && Array.isArray(index.manifests), "not an image index");
  });
  add("discovery", "referrers lists the referrers with their artifactType", async () => {
    const { index } = await referrersOf();
    for (const [type, img] of Object.entries(referrers)) {
      const entry = index.manifests!.find((m) => m.digest === img.digest);
      expect(entry, `referrer ${img.digest} missing`);
      expect(entry.artifactType === type, `artifactType ${entry.artifactType}, expected ${type}`);
    }
  });
  add("discovery", "referrers artifactType filter sets OCI-Filters-Applied", async () => {
    const { res, index } = await referrersOf(`?artifactType=${encodeURIComponent(refTypeA)}`);
    expectHeader(res, "oci-filters-applied", "artifactType");
    expect(index.manifests!.length === 1 && index.manifests![0]!.digest === referrers[refTypeA]?.digest, "filter did not apply");
  });
  add("discovery", "referrers of a digest without referrers is an empty index", async () => {
    const res = await get(`/v2/${discoRepo}/referrers/${sha256("nothing refers to me")}`);
    expectStatus(res, 200);
    const index = (await res.json()) as { manifests?: unknown[] };
    expect(Array.isArray(index.manifests) && index.manifests.length === 0, "expected an empty manifests list");
  });

  // ---------------------------------------------------------------- management
  const mgmtRepo = `${ns}/management`;
  let mgmt: Image | undefined;
  const mgmtImage = () => {
    if (!mgmt) throw new CheckFailed("set-up failed: no image to delete");
    return mgmt;
  };
  add("management", "set-up: push an image under two tags", async () => {
    const img = await prepareImage(push, mgmtRepo);
    expectStatus(await push.manifest(mgmtRepo, "keep", img.body, OCI_MANIFEST), 201);
    expectStatus(await push.manifest(mgmtRepo, "remove", img.body, OCI_MANIFEST), 201);
    mgmt = img;
  });
  add("management", "DELETE tag returns 202", async () => {
    mgmtImage();
    const res = await del(`/v2/${mgmtRepo}/manifests/remove`);
    expectStatus(res, 202);
  });
  add("management", "deleted tag is gone and the manifest remains by digest", async () => {
    const img = mgmtImage();
    const gone = await get(`/v2/${mgmtRepo}/manifests/remove`, { Accept: OCI_MANIFEST });
    expectStatus(gone, 404);
    await gone.arrayBuffer();
    const kept = await get(`/v2/${mgmtRepo}/manifests/${img.digest}`, { Accept: OCI_MANIFEST });
    expectStatus(kept, 200);
    await kept.arrayBuffer();
  });
  add("management", "DELETE manifest by digest returns 202", async () => {
    expectStatus(await del(`/v2/${mgmtRepo}/manifests/${mgmtImage().digest}`), 202);
  });
  add("management", "a deleted manifest returns 404", async () => {
    const img = mgmtImage();
    await expectError(await get(`/v2/${mgmtRepo}/manifests/${img.digest}`, { Accept: OCI_MANIFEST }), [404], ["MANIFEST_UNKNOWN"]);
    const tag = await get(`/v2/${mgmtRepo}/manifests/keep`, { Accept: OCI_MANIFEST });
    expectStatus(tag, 404);
    await tag.arrayBuffer();
  });
  add("management", "DELETE blob returns 202", async () => {
    expectStatus(await del(`/v2/${mgmtRepo}/blobs/${mgmtImage().layer.digest}`), 202);
  });
  add("management", "a deleted blob returns 404", async () => {
    await expectError(await get(`/v2/${mgmtRepo}/blobs/${mgmtImage().layer.digest}`), [404], ["BLOB_UNKNOWN"]);
  });
  add("management", "DELETE of an unknown manifest returns 404", async () => {
    await expectError(await del(`/v2/${mgmtRepo}/manifests/${sha256("never pushed manifest")}`), [404], ["MANIFEST_UNKNOWN"]);
  });
  add("management", "DELETE of an unknown blob returns 404", async () => {
    await expectError(await del(`/v2/${mgmtRepo}/blobs/${sha256("never pushed blob")}`), [404], ["BLOB_UNKNOWN"]);
  });

  return checks;
}

export function checkName(r: { workflow: Workflow; name: string }): string {
  return `${r.workflow}: ${r.name}`;
}

export async function runConformance(options: ConformanceOptions, onResult?: (r: CheckResult) => void): Promise<{ results: CheckResult[] }> {
  const base = options.url.replace(/\/+$/, "");
  const client = new RegistryClient(base, options.credentials);
  const ns = options.namespace ?? `conformance/${randomBytes(4).toString("hex")}`;
  const only = new Set(options.only ?? WORKFLOWS);
  const results: CheckResult[] = [];
  for (const check of buildChecks(client, ns)) {
    if (!only.has(check.workflow)) continue;
    let result: CheckResult;
    try {
      await check.run();
      result = { workflow: check.workflow, name: check.name, ok: true };
    } catch (err) {
      const reason = err instanceof CheckFailed ? err.message : `unexpected error: ${(err as Error).message}`;
      result = { workflow: check.workflow, name: check.name, ok: false, reason };
    }
    results.push(result);
    onResult?.(result);
  }
  return { results };
}
