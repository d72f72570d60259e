import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync, statfsSync } from "node:fs";
import { describe, test } from "node:test";
import { TestClient } from "../helpers/client.js";
import { AuthClient, basic, eventually, withAuthServer } from "../helpers/auth.js";
import { pushOwnImage } from "../helpers/images.js";
import { metricValue, opsConfig, runGc, runScrub } from "../helpers/ops.js";
import { startChildServer, startTestServer, tempDir } from "../helpers/server.js";

const MANIFEST_ROUTE = "/v2/*name/manifests/:reference";
const BLOB_ROUTE = "/v2/*name/blobs/:digest";
const SESSION_ROUTE = "/v2/*name/blobs/uploads/:uuid";

describe("observability: metrics, health, logs, schedules", () => {
  test("/metrics exposes HTTP, uploads, storage, GC, scrub and process metrics under Prometheus names", async () => {
    const server = await startTestServer(opsConfig());
    const client = new TestClient(server.url);
    try {
      const image = await pushOwnImage(client, "obs/metrics", "v1", { layer: randomBytes(200_000) });
      const layer = image.blobs[1]!;
      assert.equal((await (await client.fetch(`/v2/obs/metrics/blobs/${layer.digest}`)).arrayBuffer()).byteLength, layer.size);
      assert.equal((await client.fetch("/v2/obs/metrics/manifests/nope")).status, 404);
      await runGc(client, { grace: 0 });
      await runScrub(client);

      // A PATCH streaming slowly counts as an upload in progress while it streams.
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let sent = 0;
      const session = await client.startUpload("obs/metrics");
      const patching = client.fetch(session, {
        method: "PATCH",
        body: new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (sent > 0) await gate;
            if (sent > 1) return controller.close();
            sent++;
            controller.enqueue(new Uint8Array(randomBytes(10_000)));
          },
        }),
      });
      await eventually("the PATCH is streaming", async () => metricValue(await (await client.fetch("/metrics")).text(), "dvcr_uploads_in_progress") === 1);
      release();
      assert.equal((await patching).status, 202);

      const res = await client.fetch("/metrics");
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
      const m = await res.text();
      const value = (name: string, labels: Record<string, string> = {}) => {
        const v = metricValue(m, name, labels);
        assert.notEqual(v, undefined, `${name} ${JSON.stringify(labels)} is exposed`);
        return v!;
      };
      assert.ok(value("dvcr_http_requests_total", { route: MANIFEST_ROUTE, method: "PUT", status: "201" }) >= 1);
      assert.equal(value("dvcr_http_requests_total", { route: MANIFEST_ROUTE, method: "GET", status: "404" }), 1);
      assert.ok(value("dvcr_http_request_duration_seconds_count", { route: BLOB_ROUTE, method: "GET" }) >= 1);
      assert.ok(value("dvcr_http_request_duration_seconds_bucket", { route: BLOB_ROUTE, method: "GET", le: "+Inf" }) >= 1);
      assert.ok(value("dvcr_http_sent_bytes_total", { route: BLOB_ROUTE }) > layer.size, "the layer went out");
      assert.ok(value("dvcr_http_received_bytes_total", { route: SESSION_ROUTE }) > layer.size, "and came in");
      assert.equal(value("dvcr_uploads_in_progress"), 0);
      const fs = statfsSync(server.root);
      assert.equal(value("dvcr_storage_capacity_bytes"), fs.blocks * fs.bsize);
      assert.ok(value("dvcr_storage_free_bytes") > 0 && value("dvcr_storage_used_bytes") > 0);
      assert.ok(value("dvcr_storage_reserve_bytes") > 0);
      assert.equal(value("dvcr_storage_blobs_bytes"), image.blobs.reduce((n, b) => n + b.size, 0));
      assert.equal(value("dvcr_upload_sessions"), 1);
      assert.equal(value("dvcr_storage_direct_io"), 1, "the test volume takes O_DIRECT");
      assert.equal(value("dvcr_storage_uploads_bytes"), 20_000);
      assert.equal(value("dvcr_gc_runs_total", { result: "success", mode: "sweep" }), 1);
      assert.equal(value("dvcr_gc_duration_seconds_count"), 1);
      assert.ok(value("dvcr_gc_last_success_timestamp_seconds") > Date.now() / 1000 - 60);
      value("dvcr_gc_freed_bytes_total", { kind: "blob" });
      value("dvcr_gc_deleted_total", { kind: "manifest" });
      assert.equal(value("dvcr_scrub_runs_total", { result: "success" }), 1);
      assert.equal(value("dvcr_scrub_checked_blobs_total"), 2);
      assert.equal(value("dvcr_scrub_corrupt_blobs"), 0);
      value("dvcr_scrub_duration_seconds_count");
      value("process_cpu_user_seconds_total");
      value("process_resident_memory_bytes");
      value("nodejs_heap_size_used_bytes");
      for (const line of m.split("\n").filter((l) => l.startsWith("# TYPE dvcr_"))) {
        const [, , name, type] = line.split(" ");
        if (type === "counter") assert.match(name!, /_total$/, `${name} is a counter named …_total`);
      }
    } finally {
      await server.dispose();
    }
  });

  test("/healthz answers while the process lives; /readyz checks the database, the root and free space", async () => {
    const server = await startTestServer(opsConfig());
    const client = new TestClient(server.url);
    try {
      const health = await client.fetch("/healthz");
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: "ok" });
      const ready = await client.fetch("/readyz");
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { ready: true, mode: "read-write", checks: { database: "ok", root: "ok", storage: "ok" } });
      await server.registry.meta.close(); // the database goes away under the server
      const notReady = await client.fetch("/readyz");
      assert.equal(notReady.status, 503);
      const body = (await notReady.json()) as { ready: boolean; checks: { database: string } };
      assert.equal(body.ready, false);
      assert.match(body.checks.database, /^unavailable/);
      assert.equal((await client.fetch("/healthz")).status, 200);
    } finally {
      await server.dispose();
    }
  });

  test("logs are JSON lines with a request id per request, and never carry credentials", async () => {
    const root = tempDir();
    const server = await startChildServer(root, ["--log-level", "debug"]);
    let output = "";
    server.process.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    try {
      const secret = "s3cret-Pa55word-in-a-header";
      const res = await fetch(`${server.url}/v2/`, { headers: { "X-Request-Id": "trace-42", Authorization: basic("someone", secret), Cookie: `session=${secret}` } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-request-id"), "trace-42");
      const generated = await fetch(`${server.url}/v2/obs/none/manifests/latest`);
      assert.match(generated.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
      await eventually("both requests are logged", async () => output.includes("trace-42") && output.includes(generated.headers.get("x-request-id")!));
      const lines = output.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
      const entry = lines.find((l) => l.reqId === "trace-42")!;
      assert.deepEqual([entry.method, entry.path, entry.status, entry.service], ["GET", "/v2/", 200, "dvcr"]);
      assert.equal(typeof entry.ms, "number");
      assert.ok(!output.includes(secret), "no credential in any log line");
      assert.ok(!/authorization/i.test(output));
    } finally {
      await server.kill();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("GC and scrub run on their cron schedules (6-field: every second) and report as tasks", async () => {
    const server = await startTestServer(opsConfig({ gc: { schedule: "* * * * * *", grace: 0 }, scrub: { schedule: "*/1 * * * * *" } }));
    const client = new TestClient(server.url);
    try {
      const lone = await client.pushBlob("obs/schedule", randomBytes(5000));
      await eventually("the scheduled GC collected the lone blob", async () => (await client.fetch(`/v2/obs/schedule/blobs/${lone}`, { method: "HEAD" })).status === 404);
      type Task = { name: string; schedule: string | null; nextRun: string | null; last?: { trigger: string; result?: unknown } };
      let tasks: Task[] = [];
      await eventually("both tasks ran from their schedule", async () => {
        tasks = ((await (await client.fetch("/api/v1/tasks")).json()) as { tasks: Task[] }).tasks;
        return tasks.filter((t) => t.schedule !== null).every((t) => t.last?.trigger === "schedule");
      });
      // GC and scrub are scheduled; the disk index passes run on the same framework, fed by pushes.
      assert.deepEqual(tasks.map((t) => [t.name, t.schedule]), [["gc", "* * * * * *"], ["scrub", "*/1 * * * * *"], ["index.probe", null], ["index.checksum", null]]);
      for (const t of tasks.slice(0, 2)) assert.ok(Date.parse(t.nextRun!) > Date.now() - 1000, "the next run is announced");
      const metrics = await (await client.fetch("/metrics")).text();
      assert.ok(metricValue(metrics, "dvcr_gc_runs_total", { result: "success", mode: "sweep" })! >= 1);
      assert.ok(metricValue(metrics, "dvcr_scrub_runs_total", { result: "success" })! >= 1);
      assert.ok(metricValue(metrics, "dvcr_task_runs_total", { task: "gc", result: "success" })! >= 1);
      // An API run while the schedule ticks: runs are serialised, never concurrent.
      assert.equal((await runGc(client, { dryRun: true })).dryRun, true);
    } finally {
      await server.dispose();
    }
  });

  test("with authentication configured, the ops API is for the admin only; probes and metrics stay open", async () => {
    await withAuthServer(
      (fx) => ({ ...opsConfig(), auth: { ...fx.auth, htpasswd: { path: fx.htpasswdFile, access: { "cvi/**": ["pull", "push", "delete"] } } } }),
      async (server, fx) => {
        const anonymous = new AuthClient(server.url);
        const puller = new AuthClient(server.url, basic(fx.puller.username, fx.puller.password));
        const owner = new AuthClient(server.url, basic("alice", "alice-secret-1"));
        const admin = new AuthClient(server.url, basic(fx.admin.username, fx.admin.password));
        await pushOwnImage(owner, "cvi/owned", "latest");
        const routes: [string, string][] = [
          ["POST", "/api/v1/gc"],
          ["POST", "/api/v1/scrub"],
          ["GET", "/api/v1/storage"],
          ["GET", "/api/v1/tasks"],
          ["DELETE", "/api/v1/repositories/cvi/owned"],
        ];
        for (const [method, route] of routes) {
          const init = { method, ...(method === "POST" ? { body: "{}" } : {}) };
          assert.equal((await anonymous.fetch(route, init)).status, 401, `${method} ${route} anonymous`);
          assert.equal((await puller.fetch(route, init)).status, 403, `${method} ${route} puller`);
          assert.equal((await owner.fetch(route, init)).status, 403, `${method} ${route}: delete on the repository is not admin`);
        }
        for (const [method, route] of routes) {
          const init = { method, ...(method === "POST" ? { body: "{}" } : {}) };
          assert.equal((await admin.fetch(route, init)).status, 200, `${method} ${route} admin`);
        }
        for (const probe of ["/healthz", "/readyz", "/metrics"]) assert.equal((await anonymous.fetch(probe)).status, 200, probe);
      },
    );
  });
});

// Last: the metrics registry is shared by every server of this process, and the tests above count
// from zero.
describe("observability: distribution's metric families", () => {
  test("distribution's registry_http_* families, also on the debug port (debug.listen), for dashboards made for it", async () => {
    const server = await startTestServer({ ...opsConfig(), debug: { listen: "127.0.0.1:0" } });
    const client = new TestClient(server.url);
    try {
      assert.ok(server.debugUrl, "the debug port listens");
      const scrape = async () => {
        const res = await fetch(`${server.debugUrl}/metrics`);
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
        return res.text();
      };
      // The metrics registry is shared by every server in this process: compare before and after.
      const before = await scrape();
      const image = await pushOwnImage(client, "obs/dist", "v1", { layer: randomBytes(300_000) });
      const layer = image.blobs[1]!;
      assert.equal((await (await client.fetch(`/v2/obs/dist/blobs/${layer.digest}`)).arrayBuffer()).byteLength, layer.size);
      await (await client.fetch("/v2/obs/dist/tags/list")).arrayBuffer();
      await (await client.fetch("/v2/")).arrayBuffer();
      await (await client.fetch("/v2/obs/dist/manifests/nope")).arrayBuffer();
      const after = await scrape();

      const grew = (name: string, labels: Record<string, string>) => (metricValue(after, name, labels) ?? 0) - (metricValue(before, name, labels) ?? 0);
      const requests = (handler: string, method: string, code: string) => grew("registry_http_requests_total", { handler, method, code });
      assert.equal(requests("manifest", "PUT", "201"), 1);
      assert.equal(requests("manifest", "GET", "404"), 1);
      assert.equal(requests("blob", "GET", "200"), 1);
      assert.equal(requests("tags", "GET", "200"), 1);
      assert.equal(requests("base", "GET", "200"), 1);
      assert.equal(requests("blob_upload", "POST", "202"), 2, "config and layer sessions");
      assert.equal(requests("blob_upload_chunk", "PUT", "201"), 2);
      assert.equal(grew("registry_http_request_duration_seconds_count", { handler: "manifest", method: "PUT" }), 1);
      assert.ok(metricValue(after, "registry_http_request_duration_seconds_bucket", { handler: "blob", method: "GET", le: "60" }) !== undefined);
      assert.ok(grew("registry_http_response_size_bytes_sum", { handler: "blob" }) > layer.size, "the layer went out");
      assert.ok(grew("registry_http_request_size_bytes_sum", { handler: "blob_upload_chunk" }) > layer.size, "and came in");
      assert.equal(metricValue(after, "registry_http_in_flight_requests", { handler: "blob" }), 0);
      assert.ok((metricValue(after, "dvcr_http_requests_total", { route: MANIFEST_ROUTE, method: "PUT", status: "201" }) ?? 0) >= 1, "ours are there too");

      assert.equal((await fetch(`${server.debugUrl}/v2/`)).status, 404, "the debug port serves metrics only");
      assert.equal((await fetch(`${server.debugUrl}/metrics`, { method: "POST" })).status, 404);
    } finally {
      await server.dispose();
    }
  });
});
