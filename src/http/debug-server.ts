import http from "node:http";
import { metricsRegistry } from "../metrics/registry.js";
import { closeServer, listenOn, urlOf } from "./listen.js";

export interface DebugServer {
  /** e.g. http://127.0.0.1:5001 (the real port when listening on :0). */
  url: string;
  close(): Promise<void>;
}

/**
 * The metrics on a port of their own, as distribution serves them on `http.debug.addr`: a
 * Prometheus scrape configured for the registry DVCR ran before finds them where it looked.
 * Only GET /metrics; no credentials (keep the address inside the cluster network).
 */
export async function startDebugServer(listen: string): Promise<DebugServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
      return;
    }
    metricsRegistry.metrics().then(
      (text) => res.writeHead(200, { "Content-Type": metricsRegistry.contentType }).end(req.method === "HEAD" ? undefined : text),
      (err: unknown) => res.writeHead(500, { "Content-Type": "text/plain" }).end(`${String(err)}\n`),
    );
  });
  await listenOn(server, listen);
  return { url: urlOf(server, "http"), close: () => closeServer(server) };
}
