import { ACCEPT_MANIFESTS, NOT_A_REFERENCE, expect, expectError, expectNotFound, expectStatus, imageManifest, randomBlob, sha256, type Manifest } from "./checks.js";
import { need, type AddCheck, type Context } from "./context.js";

/** Content management: deleting tags, manifests and blobs, and 404 for what is gone or never was. */
export function managementChecks(ctx: Context, add: AddCheck): void {
  const { client } = ctx;
  const repo = ctx.repo("management");
  const accept = { Accept: ACCEPT_MANIFESTS };
  const get = (path: string) => client.request(path, { headers: accept });
  const head = (path: string) => client.request(path, { method: "HEAD", headers: accept });
  const del = (path: string) => client.request(path, { method: "DELETE" });
  let image: Manifest | undefined;
  const img = () => need(image, "set-up could not push the image to delete");

  add("set-up: push an image under two tags", async () => {
    const m = imageManifest();
    await ctx.push.image(repo, m, "keep", "remove");
    image = m;
  });
  add("DELETE tag returns 202", async () => {
    img();
    expectStatus(await del(`/v2/${repo}/manifests/remove`), 202);
  });
  add("deleted tag is gone and the manifest remains by digest", async () => {
    const m = img();
    expectError(await get(`/v2/${repo}/manifests/remove`), [404], ["MANIFEST_UNKNOWN"]);
    expectStatus(await get(`/v2/${repo}/manifests/${m.digest}`), 200);
    expectStatus(await get(`/v2/${repo}/manifests/keep`), 200);
    const list = await client.request(`/v2/${repo}/tags/list`);
    expectStatus(list, 200);
    const tags = (list.json() as { tags?: unknown } | undefined)?.tags;
    expect(Array.isArray(tags) && tags.includes("keep") && !tags.includes("remove"), `tags list after deleting "remove": ${JSON.stringify(tags)}`);
  });
  add("DELETE manifest by digest returns 202", async () => {
    expectStatus(await del(`/v2/${repo}/manifests/${img().digest}`), 202);
  });
  add("a deleted manifest returns 404", async () => {
    const m = img();
    expectError(await get(`/v2/${repo}/manifests/${m.digest}`), [404], ["MANIFEST_UNKNOWN"]);
    expectStatus(await head(`/v2/${repo}/manifests/${m.digest}`), 404);
    // "Once deleted, a GET to /v2/<name>/manifests/<digest> and any tag pointing to that digest will return a 404."
    expectError(await get(`/v2/${repo}/manifests/keep`), [404], ["MANIFEST_UNKNOWN"]);
  });
  add("DELETE blob returns 202", async () => {
    expectStatus(await del(`/v2/${repo}/blobs/${img().blobs[1]!.digest}`), 202);
  });
  add("a deleted blob returns 404", async () => {
    const layer = img().blobs[1]!;
    expectError(await client.request(`/v2/${repo}/blobs/${layer.digest}`), [404], ["BLOB_UNKNOWN"]);
    expectStatus(await client.request(`/v2/${repo}/blobs/${layer.digest}`, { method: "HEAD" }), 404);
  });
  add("DELETE of an unknown manifest returns 404", async () => {
    img();
    expectError(await del(`/v2/${repo}/manifests/${sha256(randomBlob(16).data)}`), [404], ["MANIFEST_UNKNOWN"]);
  });
  add("DELETE of a manifest by a reference that is neither a tag nor a digest returns 404", async () => {
    img();
    return expectNotFound(await del(`/v2/${repo}/manifests/${NOT_A_REFERENCE}`), ["MANIFEST_UNKNOWN"]);
  });
  add("DELETE of an unknown blob returns 404", async () => {
    img();
    expectError(await del(`/v2/${repo}/blobs/${sha256(randomBlob(16).data)}`), [404], ["BLOB_UNKNOWN"]);
  });
  add("DELETE manifest in an unknown repository returns 404", async () => {
    // "If the repository does not exist, the response MUST return 404 Not Found."
    expectError(await del(`/v2/${ctx.unknownRepo}/manifests/${sha256(randomBlob(16).data)}`), [404], ["NAME_UNKNOWN", "MANIFEST_UNKNOWN"]);
  });
}
