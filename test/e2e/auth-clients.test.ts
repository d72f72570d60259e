import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import type { Config } from "../../src/config/config.js";
import { AuthClient, basic, controllerToken, repositoryAccess, withAuthServer, type AuthFixture } from "../helpers/auth.js";
import { tempDir, type TestServer } from "../helpers/server.js";
import { CommandError } from "./helpers/command.js";
import { Containerd } from "./helpers/containerd.js";
import { createDisk } from "./helpers/disks.js";
import { pushAsImporter } from "./helpers/importer.js";
import { Podman } from "./helpers/podman.js";
import { skopeo } from "./helpers/skopeo.js";

const MiB = 1024 * 1024;

/** The two ways a cluster runs dvcr: DVCR's Basic-only plugin, and with the Docker token service. */
const MODES: { name: string; configure: (fx: AuthFixture) => Partial<Config> }[] = [
  { name: "Basic only", configure: (fx) => ({ auth: fx.auth }) },
  { name: "token service", configure: (fx) => ({ auth: { ...fx.auth, token: {} } }) },
];

/** The command fails, and what the client printed says why (401 or 403 in its words). */
async function expectRefused(run: Promise<unknown>, why: RegExp): Promise<void> {
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof CommandError, String(err));
    assert.match(`${err.result.stderr}\n${err.result.stdout}`, why);
    return true;
  });
}

async function manifestStatus(server: TestServer, fx: AuthFixture, repository: string, tag: string): Promise<number> {
  const res = await new AuthClient(server.url, basic(fx.admin.username, fx.admin.password)).fetch(`/v2/${repository}/manifests/${tag}`, {
    headers: { Accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json" },
  });
  await res.arrayBuffer();
  return res.status;
}

for (const mode of MODES) {
  describe(`real clients authenticate (${mode.name})`, () => {
    test("podman login + push as admin; a wrong password is refused at login", () => {
      const work = tempDir("dvcr-e2e-auth-");
      return withAuthServer(mode.configure, async (server, fx) => {
        const host = new URL(server.url).host;
        const podman = new Podman(path.join(work, "podman"));
        const authfile = path.join(work, "auth.json");
        await expectRefused(
          podman.run("login", "--tls-verify=false", "--authfile", authfile, "-u", fx.admin.username, "-p", "not-the-password", host),
          /invalid username|401|unauthorized/i,
        );
        await podman.run("login", "--tls-verify=false", "--authfile", authfile, "-u", fx.admin.username, "-p", fx.admin.password, host);
        const disk = await createDisk(path.join(work, "disks"), "qcow2", 2 * MiB);
        const reference = `${host}/cvi/podman-auth:latest`;
        await podman.buildDiskImage(disk, reference);
        await podman.run("push", "--tls-verify=false", "--authfile", authfile, reference);
        assert.equal(await manifestStatus(server, fx, "cvi/podman-auth", "latest"), 200);

        // The node puller may log in, but not push.
        const pullerAuth = path.join(work, "puller.json");
        await podman.run("login", "--tls-verify=false", "--authfile", pullerAuth, "-u", fx.puller.username, "-p", fx.puller.password, host);
        await expectRefused(
          podman.run("push", "--tls-verify=false", "--authfile", pullerAuth, reference, `docker://${host}/cvi/podman-denied:latest`),
          /denied|unauthorized|403|401/i,
        );
        assert.equal(await manifestStatus(server, fx, "cvi/podman-denied", "latest"), 404);
      }).finally(() => rmSync(work, { recursive: true, force: true }));
    });

    test("skopeo --src-creds / --dest-creds: puller reads, a controller JWT scoped to one repository writes there only", () =>
      withAuthServer(mode.configure, async (server, fx) => {
        const host = new URL(server.url).host;
        const admin = new AuthClient(server.url, basic(fx.admin.username, fx.admin.password));
        await admin.pushImage("cvi/source", "latest");
        const puller = `${fx.puller.username}:${fx.puller.password}`;

        const inspect = await skopeo("inspect", "--tls-verify=false", "--creds", puller, `docker://${host}/cvi/source:latest`);
        assert.match(inspect.stdout, /"Digest": "sha256:/);
        await expectRefused(skopeo("inspect", "--tls-verify=false", `docker://${host}/cvi/source:latest`), /unauthorized|authentication required|401/i);

        const jwt = await controllerToken(fx.controllerKey, { access: repositoryAccess("cvi/target", "pull", "push") });
        await skopeo(
          "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
          "--src-creds", puller, "--dest-creds", `importer:${jwt}`,
          `docker://${host}/cvi/source:latest`, `docker://${host}/cvi/target:v1`,
        );
        assert.equal(await manifestStatus(server, fx, "cvi/target", "v1"), 200);
        const tags = await skopeo("list-tags", "--tls-verify=false", "--creds", `importer:${jwt}`, `docker://${host}/cvi/target`);
        assert.deepEqual((JSON.parse(tags.stdout) as { Tags: string[] }).Tags, ["v1"]);

        // The same token cannot write anywhere else.
        await expectRefused(
          skopeo(
            "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
            "--src-creds", puller, "--dest-creds", `importer:${jwt}`,
            `docker://${host}/cvi/source:latest`, `docker://${host}/cvi/elsewhere:v1`,
          ),
          /denied|unauthorized|403|401/i,
        );
        assert.equal(await manifestStatus(server, fx, "cvi/elsewhere", "v1"), 404);
      }));

    test("containerd pulls with ctr --user (the node puller), and not without it", () => {
      const work = tempDir("dvcr-e2e-auth-");
      let containerd: Containerd | undefined;
      return withAuthServer(mode.configure, async (server, fx) => {
        const host = new URL(server.url).host;
        // Pushed as DVCR's importer does, with a controller token scoped to this one repository.
        const jwt = await controllerToken(fx.controllerKey, { access: repositoryAccess("vi/ns/pulled", "pull", "push") });
        const disk = await createDisk(path.join(work, "disks"), "raw", 2 * MiB);
        const pushed = await pushAsImporter(new AuthClient(server.url, basic("importer", jwt)), "vi/ns/pulled", "latest", disk);
        mkdirSync(path.join(work, "containerd"));
        containerd = await Containerd.start(path.join(work, "containerd"));
        const reference = `${host}/vi/ns/pulled:latest`;
        await expectRefused(containerd.ctr("images", "pull", "--plain-http", reference), /401|unauthorized/i);
        await containerd.ctr("images", "pull", "--plain-http", "--user", `${fx.puller.username}:${fx.puller.password}`, reference);
        const { stdout } = await containerd.ctr("images", "ls");
        const row = stdout.split("\n").find((line) => line.startsWith(`${reference} `));
        assert.ok(row?.split(/\s+/).includes(pushed.manifestDigest), stdout);
      })
        .finally(() => containerd?.dispose())
        .finally(() => rmSync(work, { recursive: true, force: true }));
    });
  });
}
