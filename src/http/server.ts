import http from "node:http";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { AuthService } from "../auth/index.js";
import { Registry } from "../registry/index.js";
import { Operations } from "../gc/operations.js";
import { createApp } from "./app.js";
import { createServingSocket, type ServingSocket } from "./tls.js";
import { startDebugServer, type DebugServer } from "./debug-server.js";
import { closeServer, listenOn, urlOf } from "./listen.js";
import { CviService } from "../cvi/service.js";
import { kubeApi } from "./routes/kube.js";
import { cviUploadRoutes } from "./routes/cvi-uploads.js";
import { importImage } from "../importer/index.js";

export interface RunningServer {
  registry: Registry;
  /** GC, scrub and their schedules (started with the server, stopped before the registry closes). */
  operations: Operations;
  server: http.Server;
  /** ClusterVirtualImages: their Kubernetes-style API and lifecycle. */
  cvi: CviService;
  /** Base URL, e.g. http://127.0.0.1:5000 (the real port when listening on :0). */
  url: string;
  /** Where /metrics is also served (`debug.listen`), if anywhere. */
  debugUrl?: string;
  close(): Promise<void>;
}

/** Open the registry at config.root and serve it on config.listen. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  // Credentials, keys and the TLS pair first: a missing secret stops the start before any data is opened.
  const auth = config.auth && AuthService.create(config.auth, config.root, logger);
  if (!auth) logger.warn("no auth section in the configuration: anyone who can reach this registry may push, pull and delete");
  let socket: ServingSocket | undefined;
  let registry: Registry;
  try {
    socket = createServingSocket(config.tls, logger);
    registry = await Registry.open(config);
  } catch (err) {
    auth?.close();
    socket?.close();
    throw err;
  }
  const writePath = registry.uploads.writePath;
  if (writePath.refusal) logger.warn({ refusal: writePath.refusal }, "the volume refuses O_DIRECT: uploads are written through the page cache");
  const recovered = await registry.uploads.recover();
  if (recovered.dropped + recovered.removedFiles > 0) logger.info(recovered, "reconciled upload sessions after restart");
  // The disk index resumes what earlier runs left uninspected; pushes queue their own manifests.
  registry.images.start(logger);
  const server = socket.server;
  const cvi = CviService.open(config, registry, importImage, logger);
  const extensions = [kubeApi({ resources: [cvi.api], auth, logger }), cviUploadRoutes(cvi.controller.uploads, logger)];
  server.on("request", createApp(registry, logger, auth, extensions).callback());
  // Multi-GiB disk uploads take minutes: Node's default 5-minute requestTimeout would cut them.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  await listenOn(server, config.listen);
  let debug: DebugServer | undefined;
  if (config.debug?.listen) {
    try {
      debug = await startDebugServer(config.debug.listen);
    } catch (err) {
      server.close();
      await cvi.close();
      registry.close();
      auth?.close();
      socket.close();
      throw err;
    }
    logger.info({ url: debug.url }, `metrics also on ${debug.url}/metrics`);
  }
  const operations = Operations.of(registry, logger);
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
    async close() {
      await debug?.close();
      await closeServer(server);
      await cvi.close();
      await operations.stop();
      socket.close();
      auth?.close();
      registry.close();
    },
  };
}
