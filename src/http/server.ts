import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { parseListen, type Config } from "../config/config.js";
import { Registry } from "../registry/index.js";
import { createApp } from "./app.js";

export interface RunningServer {
  registry: Registry;
  server: http.Server;
  /** Base URL, e.g. http://127.0.0.1:5000 (the real port when listening on :0). */
  url: string;
  close(): Promise<void>;
}

/** Open the registry at config.root and serve it on config.listen. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const registry = await Registry.open(config);
  const recovered = await registry.uploads.recover();
  if (recovered.dropped + recovered.removedFiles > 0) logger.info(recovered, "reconciled upload sessions after restart");
  const app = createApp(registry, logger);
  const server = http.createServer(app.callback());
  // Multi-GiB disk uploads take minutes: Node's default 5-minute requestTimeout would cut them.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  const { host, port } = parseListen(config.listen);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  return {
    registry,
    server,
    url,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      registry.close();
    },
  };
}
