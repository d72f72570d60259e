import http from "node:http";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { formatBytes } from "../config/units.js";
import type { AuthService } from "../auth/service.js";
import { openRegistry, type OpenOptions, type OpenRegistry } from "../assembly/open-registry.js";
import type { Operations } from "../gc/operations.js";
import { createApp } from "./app.js";
import { createServingSocket, type ServingSocket } from "./tls.js";
import { startDebugServer, type DebugServer } from "./debug-server.js";
import { closeServer, listenOn, urlOf } from "./listen.js";
import { serveWithLimits } from "./connection-limits.js";
import { RequestTracker } from "./shutdown.js";
import { CviService } from "../cvi/service.js";
import { importImage } from "../importer/index.js";

export interface RunningServer {
  registry: OpenRegistry;
  /** GC, scrub and their schedules (started with the server, stopped before the registry closes). */
  operations: Operations;
  /** ClusterVirtualImages: their Kubernetes-style API and lifecycle. */
  cvi: CviService;
  server: http.Server;
  /** Base URL, e.g. http://127.0.0.1:5000 (the real port when listening on :0). */
  url: string;
  /** Where /metrics is also served (`debug.listen`), if anywhere. */
  debugUrl?: string;
  /**
   * Stop serving and close the registry. With `graceMs`, requests in flight get that long to
   * finish first (graceful shutdown); without, connections are cut at once.
   */
  close(options?: { graceMs?: number }): Promise<void>;
  /** During a graceful close: cut the requests still running now (a second signal). */
  hurry(): void;
}

/** A reserve above half the volume leaves uploads less room than it keeps free: likely a unit slip. */
async function warnOfLargeReserve(registry: OpenRegistry, logger: Logger): Promise<void> {
  const { capacityBytes, reserveBytes } = await registry.storage.capacity.stats();
  if (reserveBytes > capacityBytes / 2) {
    logger.warn(
      { reserveBytes, capacityBytes, reserve: registry.config.storage.reserve },
      `storage.reserve keeps ${formatBytes(reserveBytes)} free on a volume of ${formatBytes(capacityBytes)}: more than half of it is closed to uploads`,
    );
  }
}

/** Open the registry at config.root and serve it on config.listen. */
export async function startServer(config: Config, logger: Logger, options: OpenOptions = {}): Promise<RunningServer> {
  // Credentials, keys and the TLS pair first: a missing secret stops the start before any data is opened.
  // Loaded only when configured: an open registry never pays for jose and bcrypt in memory.
  const auth: AuthService | undefined = config.auth && (await import("../auth/service.js")).AuthService.create(config.auth, config.root, logger);
  if (!auth) logger.warn("no auth section in the configuration: anyone who can reach this registry may push, pull and delete");
  let socket: ServingSocket | undefined;
  let registry: OpenRegistry;
  try {
    socket = createServingSocket(config.tls, logger);
    registry = await openRegistry(config, logger, options);
  } catch (err) {
    auth?.close();
    socket?.close();
    throw err;
  }
  const writePath = registry.storage.writePath;
  if (writePath.refusal) logger.warn({ refusal: writePath.refusal }, "the volume refuses O_DIRECT: uploads are written through the page cache");
  await warnOfLargeReserve(registry, logger);
  const recovered = await registry.uploads.recover();
  if (recovered.dropped + recovered.removedFiles > 0) logger.info(recovered, "reconciled upload sessions after restart");
  // The disk index resumes what earlier runs left uninspected; pushes queue their own manifests.
  registry.images.start(logger);
  const server = socket.server;
  const requests = new RequestTracker();
  const cvi = CviService.open(registry, importImage, logger);
  serveWithLimits(server, requests.listener(createApp(registry, logger, auth, cvi).callback()), config.http, logger);
  await listenOn(server, config.listen);
  let debug: DebugServer | undefined;
  if (config.debug?.listen) {
    try {
      debug = await startDebugServer(config.debug.listen);
    } catch (err) {
      server.close();
      await cvi.close();
      await registry.close();
      auth?.close();
      socket.close();
      throw err;
    }
    logger.info({ url: debug.url }, `metrics also on ${debug.url}/metrics`);
  }
  const { operations } = registry;
  operations.start();
  const url = urlOf(server, socket.scheme);
  await cvi.start(url);
  return {
    registry,
    operations,
    cvi,
    server,
    url,
    debugUrl: debug?.url,
    async close(options = {}) {
      await debug?.close();
      // Watches end (clients rewatch after the restart), so the drain waits only for transfers.
      cvi.endWatches();
      if (options.graceMs === undefined) {
        await closeServer(server);
      } else {
        if (requests.requestsInFlight > 0) logger.info({ requests: requests.requestsInFlight, graceMs: options.graceMs }, "waiting for requests in flight");
        const { cut } = await requests.drain(server, options.graceMs);
        if (cut > 0) logger.warn({ requests: cut }, "grace period over: cut the requests still running (upload sessions stay resumable)");
      }
      // Imports stop here; Provisioning images resume at the next start.
      await cvi.close();
      await operations.stop();
      socket.close();
      auth?.close();
      await registry.close();
    },
    hurry: () => requests.hurry(),
  };
}
