import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { AuthClient, basic, controllerToken, createAuthFixture, errorOf, repositoryAccess, type AuthFixture } from "../helpers/auth.js";
import { diskLayer, makeRaw } from "../helpers/disk-images.js";
import { pushDiskImage, waitForImage } from "../helpers/disk-push.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";

/** The index API asks for what a pull asks for: pull on the repository; the list, catalog access. */
describe("disk-image index API under auth", () => {
  let fx: AuthFixture;
  let server: TestServer;
  let dir: string;
  let admin: AuthClient;
  before(async () => {
    fx = createAuthFixture();
    server = await startTestServer({ auth: fx.auth });
    dir = tempDir("dvcr-images-auth-");
    admin = new AuthClient(server.url, basic(fx.admin.username, fx.admin.password));
    const layer = await diskLayer(makeRaw(dir, "d.img", "2M", 65536));
    for (const repo of ["cvi/a", "cvi/b"]) {
      await pushDiskImage(admin, repo, "latest", layer);
      await waitForImage(admin, repo);
    }
  });
  after(async () => {
    await server.dispose();
    rmSync(fx.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  test("without credentials: 401 with a challenge", async () => {
    const anonymous = new AuthClient(server.url);
    for (const path of ["/api/v1/images/cvi/a", "/api/v1/images"]) {
      const res = await anonymous.fetch(path);
      assert.equal(res.status, 401, path);
      assert.ok(res.headers.get("www-authenticate"), path);
      assert.equal((await errorOf(res)).code, "UNAUTHORIZED");
    }
  });

  test("the node puller (pull anywhere) reads any image but not the listing", async () => {
    const puller = new AuthClient(server.url, basic(fx.puller.username, fx.puller.password));
    assert.equal((await puller.fetch("/api/v1/images/cvi/b")).status, 200);
    const list = await puller.fetch("/api/v1/images");
    assert.equal(list.status, 403);
    assert.equal((await errorOf(list)).code, "DENIED");
  });

  test("a controller JWT with pull on cvi/a reads cvi/a only", async () => {
    const token = await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/a", "pull") });
    const scoped = new AuthClient(server.url, basic("importer", token));
    const own = await scoped.fetch("/api/v1/images/cvi/a");
    assert.equal(own.status, 200);
    assert.equal(((await own.json()) as { format: string }).format, "raw");
    const other = await scoped.fetch("/api/v1/images/cvi/b");
    assert.equal(other.status, 403);
    assert.equal((await errorOf(other)).code, "DENIED");
  });

  test("the admin lists everything", async () => {
    const res = await admin.fetch("/api/v1/images?kind=ClusterVirtualImage");
    assert.equal(res.status, 200);
    const body = (await res.json()) as { images: { repository: string }[] };
    assert.deepEqual(body.images.map((i) => i.repository), ["cvi/a", "cvi/b"]);
  });
});
