import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { TestClient } from "../../helpers/client.js";
import { startTestServer, tempDir, type TestServer } from "../../helpers/server.js";
import { unmountAllUnder } from "./mounts.js";

export interface Disposable {
  dispose(): Promise<void> | void;
}

/** What one e2e test owns: a fresh registry, a work directory, and the resources it started. */
export interface E2eScope {
  server: TestServer;
  client: TestClient;
  /** host:port of the registry, as clients write it in image references. */
  host: string;
  /** A fresh directory under the test's work directory. */
  dir(name: string): string;
  /** Dispose `resource` when the test ends, in reverse order of registration. */
  use<T extends Disposable>(resource: T): T;
}

/**
 * Run `body` with its own dvcr on 127.0.0.1 and a temp work directory, then tear everything
 * down in `finally` (clients, then leftover mounts, then the registry and the directory), even
 * when the body fails; a cleanup failure is reported only if the body itself succeeded.
 */
export async function withRegistry(body: (scope: E2eScope) => Promise<void>): Promise<void> {
  const work = tempDir("dvcr-e2e-");
  const resources: Disposable[] = [];
  let server: TestServer | undefined;
  let failed = false;
  try {
    server = await startTestServer();
    const scope: E2eScope = {
      server,
      client: new TestClient(server.url),
      host: new URL(server.url).host,
      dir(name) {
        const dir = path.join(work, name);
        mkdirSync(dir, { recursive: true });
        return dir;
      },
      use(resource) {
        resources.push(resource);
        return resource;
      },
    };
    await body(scope);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    const errors: unknown[] = [];
    for (const resource of resources.reverse()) {
      try {
        await resource.dispose();
      } catch (err) {
        errors.push(err);
      }
    }
    try {
      await unmountAllUnder(work);
      await server?.dispose();
      rmSync(work, { recursive: true, force: true });
    } catch (err) {
      errors.push(err);
    }
    if (!failed && errors.length > 0) throw new AggregateError(errors, "e2e cleanup failed");
  }
}
