import http from "node:http";
import https from "node:https";
import { createSecureContext } from "node:tls";
import type { Logger } from "pino";
import { AUTH_DEFAULTS, type TlsConfig } from "../config/auth.js";
import { WatchedFiles } from "../config/watched-file.js";

interface Pair {
  cert: Buffer;
  key: Buffer;
}

/** Refuse a pair that does not belong together (a rotation caught between its two writes). */
function loadPair([cert, key]: Buffer[]): Pair {
  createSecureContext({ cert: cert!, key: key! });
  return { cert: cert!, key: key! };
}

export interface ServingSocket {
  server: http.Server;
  scheme: "http" | "https";
  /** Stop watching the certificate files. */
  close(): void;
}

/**
 * An HTTP server, or an HTTPS one when `tls` is set. The certificate and key are re-read when
 * either file changes and swapped in for new connections (cert-manager rotation without a
 * restart); a pair that fails to load keeps the previous one in force.
 */
/** The request handler is attached by the caller (`server.on("request", …)`) once the app exists. */
export function createServingSocket(tls: TlsConfig | undefined, logger: Logger): ServingSocket {
  if (!tls) return { server: http.createServer(), scheme: "http", close: () => {} };
  let server: https.Server | undefined;
  let pair: WatchedFiles<Pair>;
  try {
    pair = new WatchedFiles([tls.cert, tls.key], loadPair, {
      intervalMs: tls.reloadIntervalMs ?? AUTH_DEFAULTS.reloadIntervalMs,
      onReload: (paths) => {
        server?.setSecureContext(pair.value);
        logger.info({ files: paths }, "tls: reloaded certificate and key");
      },
      onError: (err, paths) => logger.warn({ files: paths, error: err.message }, "tls: could not load the changed certificate and key; keeping the previous pair"),
    });
  } catch (err) {
    throw new Error(`tls: cannot load ${tls.cert} and ${tls.key}: ${(err as Error).message}`);
  }
  server = https.createServer({ ...pair.value });
  return { server, scheme: "https", close: () => pair.close() };
}
