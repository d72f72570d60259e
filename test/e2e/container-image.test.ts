import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { TestClient } from "../helpers/client.js";
import { assertSessionResumes, slowPatch } from "../helpers/resume.js";
import { tempDir } from "../helpers/server.js";
import { runCommand } from "./helpers/command.js";
import { createDisk } from "./helpers/disks.js";
import { sha256File } from "./helpers/digests.js";
import { writeDiskOciLayout } from "./helpers/oci-layout.js";
import { pullDiskOverHttp } from "./helpers/registry-http.js";
import { skopeo } from "./helpers/skopeo.js";

/**
 * The container image as CI builds it (`npm run image`, image/build.sh: the base bootstrapped
 * from Debian packages where Docker Hub is unreachable) and runs it with podman: real pushes and
 * pulls over plain HTTP on 127.0.0.1, a non-root process, the HEALTHCHECK, and SIGTERM during an
 * upload (exit 0 within the grace period; the session resumes after the container restarts on
 * the same volume); the same image as DVCR's uploader pod (`uploader`, an xz disk through xz-utils).
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const MiB = 1024 * 1024;
const GRACE_SECONDS = 3;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("container image: built by npm run image, run with podman", () => {
  const dir = tempDir("dvcr-image-");
  // podman with its own storage and run roots, and the cgroup manager and events backend a CI shell without systemd has.
  const global = ["--root", path.join(dir, "root"), "--runroot", path.join(dir, "run"), "--tmpdir", path.join(dir, "tmp"), "--cgroup-manager", "cgroupfs", "--events-backend", "file"];
  const podman = (...args: string[]) => runCommand("podman", [...global, ...args], { timeoutMs: 120_000 });
  let image = "";
  let port = 0;
  let url = "";
  // The rlimits: this VM withholds CAP_SYS_RESOURCE, so podman's defaults cannot be set.
  const RLIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"];
  const volume = `dvcr-test-${process.pid}`;
  const container = `dvcr-test-${process.pid}`;

  before(async () => {
    mkdirSync(path.join(dir, "tmp"), { recursive: true });
    const started = Date.now();
    const { stdout } = await runCommand("bash", [path.join(REPO, "image/build.sh")], {
      cwd: REPO,
      timeoutMs: 15 * 60_000,
      env: { ...process.env, PODMAN_OPTS: global.join(" "), DVCR_IMAGE_TAG: "localhost/dvcr:e2e" },
    });
    image = stdout.trim().split("\n").pop()!;
    process.stdout.write(`# image ${image} built in ${Math.round((Date.now() - started) / 1000)} s\n`);
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    await podman("volume", "create", volume);
    await podman(
      "create", "--name", container, "--network=host", ...RLIMITS,
      "-e", `DVCR_LISTEN=127.0.0.1:${port}`, "-e", `DVCR_SHUTDOWN_GRACE=${GRACE_SECONDS}s`,
      "-v", `${volume}:/var/lib/dvcr`, image,
    );
    await startContainer();
  });

  after(async () => {
    await podman("rm", "-f", "-t", "0", container).catch(() => undefined);
    await podman("volume", "rm", "-f", volume).catch(() => undefined);
    await podman("rmi", "-a", "-f").catch(() => undefined);
    await runCommand("bash", ["-c", `umount -R ${path.join(dir, "root")}/overlay 2>/dev/null; true`]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  async function startContainer(): Promise<void> {
    await podman("start", container);
    await until("the container to answer /readyz", async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200);
  }

  async function state(): Promise<{ running: boolean; exitCode: number }> {
    const { stdout } = await podman("inspect", container, "--format", "{{.State.Running}} {{.State.ExitCode}}");
    const [running, exitCode] = stdout.trim().split(" ");
    return { running: running === "true", exitCode: Number(exitCode) };
  }

  test("runs dvcr serve as a non-root user, PID 1, with a healthy HEALTHCHECK", async () => {
    assert.equal((await podman("exec", container, "id", "-u")).stdout.trim(), "10001");
    const top = (await podman("top", container, "user", "pid", "args")).stdout.trim().split("\n").slice(1);
    assert.equal(top.length, 1, top.join("\n"));
    // node with the V8 flags of the CLI's shebang, as PID 1.
    assert.match(top[0]!, /^dvcr\s+1\s+node (--\S+ )*\/usr\/local\/bin\/dvcr serve$/);
    // The host's view of the process: its real uid is not 0.
    const pid = (await podman("inspect", container, "--format", "{{.State.Pid}}")).stdout.trim();
    assert.match((await runCommand("grep", ["^Uid:", `/proc/${pid}/status`])).stdout, /^Uid:\s+10001\s/);
    const config = JSON.parse((await podman("image", "inspect", image, "--format", "{{json .Config}}")).stdout) as { ExposedPorts: object; Volumes: object; Entrypoint: string[]; Cmd: string[] };
    assert.deepEqual([Object.keys(config.ExposedPorts), Object.keys(config.Volumes), config.Entrypoint, config.Cmd], [["5000/tcp"], ["/var/lib/dvcr"], ["dvcr"], ["serve"]]);
    // The image's HEALTHCHECK runs in the container and reports healthy (podman here has no systemd timer to run it).
    await podman("healthcheck", "run", container);
  });

  test("push a disk with skopeo and pull it back with skopeo and over HTTP: the same bytes", async () => {
    const work = path.join(dir, "disk");
    const disk = await createDisk(path.join(work, "disks"), "qcow2", 8 * MiB);
    const layout = await writeDiskOciLayout(path.join(work, "layout"), "v1", disk, true);
    const remote = `docker://127.0.0.1:${port}/cvi/container-test:latest`;
    await skopeo("copy", "--dest-tls-verify=false", "--preserve-digests", layout.reference, remote);
    const pulled = await pullDiskOverHttp(url, "cvi/container-test", "latest");
    assert.equal(pulled.manifest.digest, layout.manifest.digest);
    assert.equal(pulled.disk.digest, disk.digest);
    const out = path.join(work, "out");
    await skopeo("copy", "--src-tls-verify=false", remote, `dir:${out}`);
    assert.equal((await sha256File(path.join(out, layout.layer.digest.slice("sha256:".length)))).digest, layout.layer.digest);
  });

  test("the same image runs DVCR's uploader (`uploader` args, UPLOADER_* env): curl -T an xz qcow2, 200, the image holds the decompressed disk, exit 0", async () => {
    const work = path.join(dir, "uploader");
    const disk = await createDisk(work, "qcow2", 4 * MiB);
    await runCommand("xz", ["-k", "-0", "-T2", disk.path]);
    const [uploadPort, healthzPort] = [await freePort(), await freePort()];
    const name = `${container}-uploader`;
    // Observed at once: an uploader that fails at start must fail the test with its reason, not go unhandled.
    let ended: Error | null | undefined;
    const run = podman(
      "run", "--rm", "--name", name, "--network=host", ...RLIMITS,
      "-e", `UPLOADER_DESTINATION_ENDPOINT=127.0.0.1:${port}/cvi/container-upload:latest`, "-e", "DESTINATION_INSECURE_TLS=true",
      "-e", `LISTEN_PORT=${uploadPort}`, "-e", `HEALTHZ_PORT=${healthzPort}`, "-e", "IMPORTER_METRICS_LISTEN=off",
      "-e", "TERMINATION_MESSAGE_PATH=/tmp/termination-log", image, "uploader",
    ).then(
      () => (ended = null),
      (err: Error) => (ended = err),
    );
    try {
      await until("the uploader's /healthz", async () => {
        if (ended !== undefined) throw new Error(`the uploader container ended before it served /healthz: ${ended?.message ?? "exit 0"}`);
        return (await fetch(`http://127.0.0.1:${healthzPort}/healthz`).catch(() => undefined))?.status === 200;
      });
      const { stdout } = await runCommand("curl", ["-sS", "-T", `${disk.path}.xz`, "-w", "\n%{http_code}", `http://127.0.0.1:${uploadPort}/upload`]);
      assert.match(stdout, /\n200$/, stdout);
      assert.equal(await run, null, "podman run: the uploader exited 0");
    } finally {
      await podman("rm", "-f", "-t", "0", name).catch(() => undefined);
    }
    const pulled = await pullDiskOverHttp(url, "cvi/container-upload", "latest");
    assert.equal(pulled.disk.digest, disk.digest);
  });

  test("SIGTERM during an upload: exit 0 within the grace period, and the session resumes after a restart on the same volume", async () => {
    const client = new TestClient(url);
    const location = await client.startUpload("cvi/sigterm");
    const first = randomBytes(1_000_000);
    const res = await client.fetch(location, { method: "PATCH", body: first, headers: { "Content-Range": "0-999999" } });
    assert.equal(res.status, 202);
    const upload = slowPatch(client.url(location), 1024 * MiB, 20, { declareLength: false });
    await until("the upload to be under way", () => upload.sent() >= 4 * MiB);
    const signalled = Date.now();
    await podman("kill", "--signal", "TERM", container);
    await until("the container to exit", async () => !(await state()).running, (GRACE_SECONDS + 20) * 1000);
    const elapsed = Date.now() - signalled;
    assert.equal((await state()).exitCode, 0, "exit status 0 after SIGTERM");
    assert.ok(elapsed < (GRACE_SECONDS + 10) * 1000, `exited ${elapsed} ms after SIGTERM (grace ${GRACE_SECONDS} s)`);
    assert.ok((await upload.done) instanceof Error, "the upload still running was cut, not acknowledged");
    const logs = (await podman("logs", container)).stdout;
    assert.match(logs, /grace period over: cut the requests still running/);

    await startContainer();
    await assertSessionResumes(client, "cvi/sigterm", location, first);
  });
});
