import { randomUUID } from "node:crypto";
import {
  ACCEPT_MANIFESTS,
  OCI_MANIFEST,
  artifactManifest,
  descriptorOf,
  expect,
  expectBody,
  expectContentType,
  expectError,
  expectHeader,
  expectRejected,
  expectStatus,
  fail,
  imageManifest,
  indexManifest,
  randomBlob,
  sha256,
  type Blob,
  type Manifest,
} from "./checks.js";
import { need, type AddCheck, type Context } from "./context.js";
import type { Reply } from "./http.js";

const OCTET = { "Content-Type": "application/octet-stream" };
const EMPTY = Buffer.alloc(0);

interface Chunked {
  blob: Blob;
  /** The blob cut into three chunks (each but the last at least the registry's OCI-Chunk-Min-Length). */
  parts: { start: number; data: Buffer }[];
  /** The Location of the POST that opened the session. */
  postLocation: string;
  /** The latest Location the registry gave for the session. */
  location: string;
}

/** Push: blob uploads (monolithic, streamed, chunked), mounts, and manifests of every kind. */
export function pushChecks(ctx: Context, add: AddCheck): void {
  const { client, push } = ctx;
  const repo = ctx.repo("push");
  const get = (path: string, headers: Record<string, string> = {}) => client.request(path, { headers });
  const del = (path: string) => client.request(path, { method: "DELETE" });
  const range = (start: number, data: Uint8Array) => `${start}-${start + data.length - 1}`;

  /** POST /blobs/uploads/ with Content-Length: 0 (as a chunked upload must); the session's Location and minimum chunk. */
  const openSession = async (r = repo, query = "") => {
    const res = await client.request(`/v2/${r}/blobs/uploads/${query}`, { method: "POST", body: EMPTY });
    expectStatus(res, 202);
    const location = client.resolve(expectHeader(res, "location"));
    ctx.created.sessions.push(location);
    const min = Number(res.header("oci-chunk-min-length") ?? 0);
    return { res, location, minChunk: Number.isFinite(min) ? min : 0 };
  };
  const patchChunk = (location: string, data: Buffer, start: number) =>
    client.request(location, {
      method: "PATCH",
      headers: { ...OCTET, "Content-Range": range(start, data) },
      body: data,
    });
  const putDigest = (location: string, digest: string, body: Buffer = EMPTY, headers: Record<string, string> = OCTET) =>
    client.request(client.withQuery(location, "digest", digest), { method: "PUT", headers, body });
  /** A fresh session and a blob cut to fit its minimum chunk length. */
  const chunkedSession = async (): Promise<Chunked> => {
    const { location, minChunk } = await openSession();
    const size = Math.max(minChunk, 10_000);
    const blob = randomBlob(size * 2 + 5_000);
    const parts = [0, size, size * 2].map((start, i) => ({ start, data: blob.data.subarray(start, i < 2 ? start + size : undefined) }));
    return { blob, parts, postLocation: location, location };
  };
  /** PATCH a chunk and require 202 with Location and the grown Range; the new Location. */
  const expectChunkAccepted = (res: Reply, end: number) => {
    expectStatus(res, 202);
    expectHeader(res, "range", `0-${end}`);
    return client.resolve(expectHeader(res, "location"));
  };
  const expectBlobStored = async (r: string, blob: Blob) => {
    const res = await get(`/v2/${r}/blobs/${blob.digest}`);
    expectStatus(res, 200);
    expectBody(res, blob.data, "blob");
  };
  const expectCreated = (res: Reply, digest: string) => {
    expectStatus(res, 201);
    expectHeader(res, "location");
    expectHeader(res, "docker-content-digest", digest);
  };

  // ---------------------------------------------------------------- monolithic and streamed
  add("POST opens an upload session with 202 and Location", async () => {
    const res = await client.request(`/v2/${repo}/blobs/uploads/`, { method: "POST" });
    expectStatus(res, 202);
    const location = expectHeader(res, "location");
    await del(client.resolve(location));
  });
  add("monolithic PUT returns 201 with Location and Docker-Content-Digest", async () => {
    const b = randomBlob(4096);
    const res = await push.monolithic(repo, b.data, b.digest);
    expectCreated(res, b.digest);
    // The Location is "a pullable blob URL".
    const pulled = await get(client.resolve(res.header("location")!));
    expectStatus(pulled, 200);
    expectBody(pulled, b.data, "blob at the returned Location");
  });
  add("one-request POST ?digest= with body returns 201, or 202 with a session a PUT completes", async () => {
    const b = randomBlob(3000);
    const res = await client.request(`/v2/${repo}/blobs/uploads/?digest=${b.digest}`, { method: "POST", headers: OCTET, body: b.data });
    expectStatus(res, 201, 202);
    const location = expectHeader(res, "location");
    let note: string | undefined;
    if (res.status === 202) {
      // "Registries that do not support single request monolithic uploads SHOULD return a 202
      // Accepted status code and Location header and clients SHOULD proceed with a subsequent PUT."
      ctx.created.sessions.push(client.resolve(location));
      expectCreated(await putDigest(client.resolve(location), b.digest, b.data), b.digest);
      note = "registry answered 202 (no one-request upload); the PUT to its session completed the blob";
    }
    ctx.created.blobs.push({ repo, digest: b.digest });
    await expectBlobStored(repo, b);
    return note;
  });
  add("streamed PATCH then PUT completes the blob", async () => {
    // A PATCH without Content-Range or Content-Length, sent with chunked transfer encoding as docker does.
    const b = randomBlob(20_000);
    const { location } = await openSession();
    const patch = await client.request(location, {
      method: "PATCH",
      headers: OCTET,
      body: async function* () {
        for (let i = 0; i < b.data.length; i += 7_000) yield b.data.subarray(i, i + 7_000);
      },
    });
    const next = expectChunkAccepted(patch, b.data.length - 1);
    expectCreated(await putDigest(next, b.digest), b.digest);
    ctx.created.blobs.push({ repo, digest: b.digest });
    await expectBlobStored(repo, b);
  });

  // ---------------------------------------------------------------- chunked: one session walked through several checks
  let chunked: Chunked | undefined;
  const session = () => need(chunked, "no chunked upload session holding the first chunk");
  add("chunked PATCH returns 202 with Location and Range", async () => {
    const c = await chunkedSession();
    const [first] = c.parts;
    const res = await patchChunk(c.location, first!.data, 0);
    expectStatus(res, 202);
    c.location = client.resolve(expectHeader(res, "location"));
    chunked = c;
    expectHeader(res, "range", `0-${first!.data.length - 1}`);
  });
  add("GET upload status after a chunk returns 204 with Range", async () => {
    const c = session();
    const res = await get(c.location);
    expectStatus(res, 204);
    expectHeader(res, "range", `0-${c.parts[0]!.data.length - 1}`);
    c.location = client.resolve(expectHeader(res, "location"));
  });
  add("GET upload status at the POST Location after a chunk returns 204 with Range", async () => {
    // "The <location> refers to the URL obtained from any preceding POST or PATCH request."
    const c = session();
    const res = await get(c.postLocation);
    expectStatus(res, 204);
    expectHeader(res, "range", `0-${c.parts[0]!.data.length - 1}`);
    expectHeader(res, "location");
  });
  add("second chunk in order returns 202 with the grown Range", async () => {
    const c = session();
    const second = c.parts[1]!;
    c.location = expectChunkAccepted(await patchChunk(c.location, second.data, second.start), second.start + second.data.length - 1);
  });
  add("final PUT with the last chunk returns 201", async () => {
    const c = session();
    const last = c.parts[2]!;
    const res = await putDigest(c.location, c.blob.digest, last.data, { ...OCTET, "Content-Range": range(last.start, last.data) });
    expectCreated(res, c.blob.digest);
    ctx.created.blobs.push({ repo, digest: c.blob.digest });
  });
  add("chunked blob reads back byte for byte", async () => {
    await expectBlobStored(repo, session().blob);
  });
  add("final PUT without a body after the last PATCH returns 201", async () => {
    const c = await chunkedSession();
    let location = c.location;
    for (const p of c.parts) location = expectChunkAccepted(await patchChunk(location, p.data, p.start), p.start + p.data.length - 1);
    expectCreated(await putDigest(location, c.blob.digest), c.blob.digest);
    ctx.created.blobs.push({ repo, digest: c.blob.digest });
    await expectBlobStored(repo, c.blob);
  });
  add("out-of-order chunk returns 416", async () => {
    const c = await chunkedSession();
    const location = expectChunkAccepted(await patchChunk(c.location, c.parts[0]!.data, 0), c.parts[0]!.data.length - 1);
    // Skips the second chunk: its first byte is not the previous end of range plus one.
    expectStatus(await patchChunk(location, c.parts[2]!.data, c.parts[2]!.start), 416);
  });
  add("repeated chunk returns 416", async () => {
    const c = await chunkedSession();
    const location = expectChunkAccepted(await patchChunk(c.location, c.parts[0]!.data, 0), c.parts[0]!.data.length - 1);
    // The same chunk again, as a client retrying after a lost response would send it.
    expectStatus(await patchChunk(location, c.parts[0]!.data, 0), 416);
  });

  // ---------------------------------------------------------------- sessions and digests
  let cancelled: string | undefined;
  add("DELETE of an upload session returns 204", async () => {
    const { location } = await openSession();
    const chunk = randomBlob(1000).data;
    const next = expectChunkAccepted(await patchChunk(location, chunk, 0), chunk.length - 1);
    expectStatus(await del(next), 204);
    cancelled = next;
  });
  add("a cancelled upload session is unknown (404 BLOB_UPLOAD_UNKNOWN)", async () => {
    expectError(await get(need(cancelled, "no cancelled session")), [404], ["BLOB_UPLOAD_UNKNOWN"]);
  });
  add("PUT to an unknown upload session returns 404 with an upload error", async () => {
    const b = randomBlob(100);
    const res = await client.request(`/v2/${repo}/blobs/uploads/${randomUUID()}?digest=${b.digest}`, { method: "PUT", headers: OCTET, body: b.data });
    expectError(res, [404], ["BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"]);
  });
  add("PUT with a wrong digest returns 400 DIGEST_INVALID", async () => {
    const b = randomBlob(500);
    const claimed = sha256(randomBlob(16).data);
    expectError(await push.monolithic(repo, b.data, claimed), [400], ["DIGEST_INVALID"]);
    const stored = await client.request(`/v2/${repo}/blobs/${claimed}`, { method: "HEAD" });
    expect(stored.status === 404, `the blob is stored under the wrong digest anyway (${stored.describe()})`);
  });

  // ---------------------------------------------------------------- cross-repository mount
  const mountTarget = ctx.repo("mount-target");
  const mountBlob = randomBlob(1500);
  let mountSourced = false;
  const sourced = () => need(mountSourced ? true : undefined, `could not push the blob to mount into ${repo}`);
  add("mount with from returns 201 with Location and Docker-Content-Digest", async () => {
    await push.blob(repo, mountBlob);
    mountSourced = true;
    const res = await client.request(`/v2/${mountTarget}/blobs/uploads/?mount=${mountBlob.digest}&from=${repo}`, { method: "POST" });
    if (res.status === 202) ctx.created.sessions.push(client.resolve(res.header("location") ?? "/"));
    expectCreated(res, mountBlob.digest);
    ctx.created.blobs.push({ repo: mountTarget, digest: mountBlob.digest });
  });
  add("a mounted blob is readable in the target repository", async () => {
    sourced();
    await expectBlobStored(mountTarget, mountBlob);
  });
  add("mount without from returns 201 or 202", async () => {
    sourced();
    const target = ctx.repo("mount-nofrom");
    const res = await client.request(`/v2/${target}/blobs/uploads/?mount=${mountBlob.digest}`, { method: "POST" });
    expectStatus(res, 201, 202);
    const location = client.resolve(expectHeader(res, "location"));
    if (res.status === 201) {
      ctx.created.blobs.push({ repo: target, digest: mountBlob.digest });
      return "201: the registry found the blob and mounted it without from";
    }
    await del(location);
    return "202: the registry opened an upload session (no mount without from; the spec allows both)";
  });
  add("automatic mount without from returns 201", async () => {
    sourced();
    const target = ctx.repo("mount-auto");
    // The registry may only look in repositories this caller may read: with the token flow, that
    // is what the token names, so ask for pull on the source too (what a token for `from` holds).
    const res = await client.request(`/v2/${target}/blobs/uploads/?mount=${mountBlob.digest}`, { method: "POST", extraScopes: [`repository:${repo}:pull`] });
    if (res.status === 202 && res.header("location")) await del(client.resolve(res.header("location")!));
    if (res.status !== 201) fail(`expected status 201, got ${res.status}`);
    ctx.created.blobs.push({ repo: target, digest: mountBlob.digest });
    expectHeader(res, "location");
  });
  add("mount from a repository without the blob returns 202 (upload session)", async () => {
    sourced();
    const target = ctx.repo("mount-none");
    const res = await client.request(`/v2/${target}/blobs/uploads/?mount=${sha256(randomBlob(16).data)}&from=${repo}`, { method: "POST" });
    expectStatus(res, 202);
    await del(client.resolve(expectHeader(res, "location")));
  });

  // ---------------------------------------------------------------- manifests
  const mrepo = ctx.repo("manifests");
  const pushed: Record<string, Manifest> = {};
  /** Push `m` (and its blobs); once stored (201) it is recorded under `key` for later checks, then its headers are checked. */
  const expectManifestCreated = async (m: Manifest, reference: string, key?: string) => {
    for (const b of m.blobs) await push.blob(mrepo, b);
    const res = await push.manifest(mrepo, reference, m);
    expectStatus(res, 201);
    if (key) pushed[key] = m;
    expectCreated(res, m.digest);
    return res;
  };
  add("PUT OCI image manifest returns 201 with Location and Docker-Content-Digest", async () => {
    const m = imageManifest();
    const res = await expectManifestCreated(m, "oci", "oci");
    // The Location is "a pullable manifest URL".
    const pulled = await get(client.resolve(res.header("location")!), { Accept: ACCEPT_MANIFESTS });
    expectStatus(pulled, 200);
    expectBody(pulled, m.body, "manifest at the returned Location");
  });
  add("PUT Docker schema2 manifest returns 201 with Location and Docker-Content-Digest", async () => {
    const m = imageManifest({ docker: true });
    await expectManifestCreated(m, "docker", "docker");
  });
  add("PUT OCI index returns 201 with Location and Docker-Content-Digest", async () => {
    const child = pushed.oci ?? imageManifest();
    if (!pushed.oci) await push.image(mrepo, child);
    const index = indexManifest([child]);
    await expectManifestCreated(index, "index", "index");
  });
  add("PUT Docker manifest list returns 201 with Location and Docker-Content-Digest", async () => {
    const child = pushed.docker ?? imageManifest({ docker: true });
    if (!pushed.docker) await push.image(mrepo, child);
    const list = indexManifest([child], { docker: true });
    await expectManifestCreated(list, "list", "list");
  });
  add("GET returns each manifest kind with its media type and exact bytes", async () => {
    for (const tag of ["oci", "docker", "index", "list"]) {
      const m = need(pushed[tag], `the ${tag} manifest was not pushed`);
      const res = await get(`/v2/${mrepo}/manifests/${tag}`, { Accept: ACCEPT_MANIFESTS });
      expectStatus(res, 200);
      expectContentType(res, m.mediaType);
      expectBody(res, m.body, `${tag} manifest`);
    }
  });
  add("PUT manifest by digest returns 201", async () => {
    const m = imageManifest();
    await expectManifestCreated(m, m.digest);
  });
  add("PUT image manifest with no layers returns 201", async () => {
    // "The uploaded manifest MUST reference any blobs that make up the object. However, the list of blobs MAY be empty."
    const m = imageManifest({ layers: 0 });
    await expectManifestCreated(m, "no-layers");
  });
  let artifactPut: { reply: Reply; subject: string } | undefined;
  add("PUT artifact manifest with artifactType and subject returns 201 with Location and Docker-Content-Digest", async () => {
    const subject = need(pushed.oci, "the OCI image manifest (the subject) was not pushed");
    const a = artifactManifest({
      artifactType: "application/vnd.conformance.artifact.v1",
      subject: descriptorOf(subject),
      annotations: { "org.opencontainers.conformance": "artifact" },
    });
    for (const b of a.blobs) await push.blob(mrepo, b);
    const reply = await push.manifest(mrepo, a.digest, a);
    artifactPut = { reply, subject: subject.digest };
    expectCreated(reply, a.digest);
  });
  add("artifact manifest with subject returns OCI-Subject", async () => {
    const { reply, subject } = need(artifactPut, "the artifact manifest was not pushed");
    expectStatus(reply, 201);
    expectHeader(reply, "oci-subject", subject);
  });
  add("PUT manifest with a subject that does not exist returns 201", async () => {
    // "A registry MUST initially accept an otherwise valid manifest with a subject field that
    // references a manifest that does not exist in the repository."
    const a = artifactManifest({
      artifactType: "application/vnd.conformance.artifact.v1",
      subject: { mediaType: OCI_MANIFEST, digest: sha256(randomBlob(16).data), size: 1234 },
    });
    await expectManifestCreated(a, a.digest);
  });
  add("PUT manifest referencing an unknown blob returns 400 MANIFEST_BLOB_UNKNOWN", async () => {
    const m = imageManifest();
    await push.blob(mrepo, m.blobs[0]!); // the config; the layer is never pushed
    expectError(await push.manifest(mrepo, "unknown-blob", m), [400, 404], ["MANIFEST_BLOB_UNKNOWN"]);
  });
  add("PUT malformed manifest returns 400 MANIFEST_INVALID", async () => {
    const res = await client.request(`/v2/${mrepo}/manifests/malformed`, { method: "PUT", headers: { "Content-Type": OCI_MANIFEST }, body: "{not json" });
    expectError(res, [400], ["MANIFEST_INVALID"]);
  });
  add("PUT manifest under a digest that does not match it returns 400", async () => {
    const m = need(pushed.oci, "the OCI image manifest was not pushed");
    const res = await push.manifest(mrepo, sha256(randomBlob(16).data), m);
    expectError(res, [400], ["DIGEST_INVALID", "MANIFEST_INVALID"]);
  });
  add("PUT manifest with an invalid tag is rejected with 400 or 404", async () => {
    const m = need(pushed.oci, "the OCI image manifest was not pushed");
    return expectRejected(await push.manifest(mrepo, "-invalid-tag", m), ["TAG_INVALID", "MANIFEST_INVALID", "NAME_INVALID"]);
  });
  add("PUT manifest with a 129-character tag is rejected with 400 or 404", async () => {
    const m = need(pushed.oci, "the OCI image manifest was not pushed");
    return expectRejected(await push.manifest(mrepo, `t${"a".repeat(128)}`, m), ["TAG_INVALID", "MANIFEST_INVALID", "NAME_INVALID"]);
  });
  add("POST to an invalid repository name is rejected with 400 NAME_INVALID or 404", async () => {
    const res = await client.request(`/v2/${ctx.repo("Invalid_Name")}/blobs/uploads/`, { method: "POST" });
    if (res.status === 202 && res.header("location")) await del(client.resolve(res.header("location")!));
    return expectRejected(res, ["NAME_INVALID"]);
  });
}
