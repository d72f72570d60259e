import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { answerClientError } from "./errors.js";
import { closeTimedOutSockets, watchRequest } from "./idle-timeouts.js";

/**
 * Attach the app to the server with the limits that keep memory and file descriptors bounded
 * whatever clients do: idle timeouts per request phase, a header deadline, a connection cap,
 * and spec error bodies for what Node's parser refuses before the app sees a request.
 */
export function serveWithLimits(server: Server, app: (req: IncomingMessage, res: ServerResponse) => void, limits: Config["http"], logger: Logger): void {
  const timeouts = { bodyIdleMs: limits.bodyIdleTimeout, sendIdleMs: limits.sendIdleTimeout };
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    watchRequest(req, res, timeouts);
    app(req, res);
  });
  closeTimedOutSockets(server, logger);
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => answerClientError(err, socket));
  // Multi-GiB disk uploads take minutes: a total request time would cut them (the idle
  // timeouts above cut what stalls instead).
  server.requestTimeout = 0;
  server.headersTimeout = limits.headersTimeout;
  server.keepAliveTimeout = limits.keepAliveTimeout;
  server.maxConnections = limits.maxConnections;
}
