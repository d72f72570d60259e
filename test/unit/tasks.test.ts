import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import { metricsRegistry } from "../../src/metrics/registry.js";
import { TaskCancelledError, TaskRunner, type TaskEvent } from "../../src/tasks/index.js";
import { metricValue } from "../helpers/ops.js";

const silent = pino({ level: "silent" });

describe("tasks: one framework for scheduled and queued background work", () => {
  test("a queued task: bounded concurrency, one run per key, a capacity, failures recorded without stopping the queue", async () => {
    const tasks = new TaskRunner(silent);
    let running = 0;
    let peak = 0;
    const ran: string[] = [];
    const queue = tasks.define<number, void>({
      name: "test.queue",
      work: async (_n, { run }) => {
        running++;
        peak = Math.max(peak, running);
        await sleep(5);
        if (run.key === "bad") throw new Error("boom");
        ran.push(run.key!);
        running--;
      },
      concurrency: 2,
      capacity: 5,
    });
    const first = queue.submit(0, { trigger: "push", key: "a" })!;
    assert.equal(queue.submit(0, { trigger: "push", key: "a" })!.record.id, first.record.id, "one run per key");
    for (const key of ["b", "c", "bad", "e"]) assert.ok(queue.submit(0, { trigger: "push", key }), key);
    assert.equal(queue.submit(0, { trigger: "push", key: "f" }), undefined, "full: five waiting");
    assert.equal(queue.has("c"), true);
    await queue.idle();
    running = 0;
    assert.equal(peak, 2);
    assert.deepEqual(ran.sort(), ["a", "b", "c", "e"]);
    const status = queue.status();
    assert.deepEqual([status.running, status.queued, status.totals], [false, 0, { succeeded: 4, failed: 1, cancelled: 0 }]);
    const metrics = await metricsRegistry.metrics();
    assert.equal(metricValue(metrics, "dvcr_task_runs_total", { task: "test.queue", result: "failure" }), 1);
    assert.equal(metricValue(metrics, "dvcr_task_runs_total", { task: "test.queue", result: "success" }), 4);
    await tasks.stop();
  });

  test("serialised runs: a second request waits for the first and gets its own result; errors reach the caller", async () => {
    const tasks = new TaskRunner(silent);
    const order: string[] = [];
    const task = tasks.define<string, string>({
      name: "test.serial",
      work: async (name) => {
        order.push(`start ${name}`);
        await sleep(20);
        order.push(`end ${name}`);
        if (name === "bad") throw new Error("bad run");
        return `done ${name}`;
      },
    });
    const [one, two, bad] = await Promise.allSettled([task.run("one", "api"), task.run("two", "cli"), task.run("bad", "api")]);
    assert.deepEqual(order, ["start one", "end one", "start two", "end two", "start bad", "end bad"]);
    assert.deepEqual([one, two].map((r) => (r as PromiseFulfilledResult<string>).value), ["done one", "done two"]);
    assert.match(String((bad as PromiseRejectedResult).reason), /bad run/);
    const last = task.status().last!;
    assert.deepEqual([last.trigger, last.error, last.durationSeconds! > 0], ["api", "bad run", true]);
    await tasks.stop();
  });

  test("progress events, and a run cancelled through its AbortSignal (what the importer needs)", async () => {
    const tasks = new TaskRunner(silent);
    const events: TaskEvent[] = [];
    tasks.onEvent((e) => events.push(e));
    const importer = tasks.define<number, number>({
      name: "test.import",
      work: async (chunks, { progress, signal }) => {
        for (let i = 1; i <= chunks; i++) {
          signal.throwIfAborted();
          await sleep(10);
          progress({ chunks: i, of: chunks });
        }
        return chunks;
      },
    });
    assert.equal(await importer.run(3, "api"), 3);
    assert.deepEqual(
      events.map((e) => (e.type === "progress" ? `progress ${e.progress.chunks}` : e.type)),
      ["started", "progress 1", "progress 2", "progress 3", "finished"],
    );
    assert.deepEqual(importer.status().last!.progress, { chunks: 3, of: 3 });

    const long = importer.submit(1000, { trigger: "api" })!;
    const queued = importer.submit(1, { trigger: "api" })!;
    while (!importer.status().current?.progress) await sleep(5);
    assert.equal(importer.status().current!.id, long.record.id, "the current run shows its progress");
    queued.cancel();
    await assert.rejects(queued.done, TaskCancelledError, "a waiting run leaves the queue");
    assert.equal(importer.cancel(long.record.id, "the user deleted the image"), true);
    await assert.rejects(long.done, /the user deleted the image/);
    assert.deepEqual(importer.status().totals, { succeeded: 1, failed: 0, cancelled: 2 });
    assert.equal(importer.status().last!.cancelled, true);
    assert.equal(events.at(-1)!.type, "failed");
    await tasks.stop();
  });

  test("scheduled tasks tick on cron (6 fields: seconds), show their next run, and stop: runs aborted, new ones refused", async () => {
    const tasks = new TaskRunner(silent);
    let ticks = 0;
    tasks.define<null, number>({ name: "test.cron", work: async () => ++ticks }, { pattern: "* * * * * *", params: () => null });
    let aborted = false;
    const stuck = tasks.define<null, void>({
      name: "test.stuck",
      work: (_p, { signal }) => new Promise((_, reject) => signal.addEventListener("abort", () => ((aborted = true), reject(signal.reason)))),
    });
    assert.deepEqual(tasks.list().map((t) => [t.name, t.schedule, t.nextRun]), [["test.cron", "* * * * * *", null], ["test.stuck", null, null]]);
    tasks.start();
    assert.ok(Date.parse(tasks.list()[0]!.nextRun!) > Date.now() - 1000);
    const running = stuck.run(null, "api");
    while (ticks === 0) await sleep(50);
    assert.equal(tasks.list()[0]!.last!.trigger, "schedule");
    await tasks.stop();
    assert.equal(aborted, true);
    await assert.rejects(running, TaskCancelledError);
    await assert.rejects(stuck.run(null, "api"), /shutting down/);
    assert.equal(tasks.list()[0]!.nextRun, null);
  });
});
