import http from "node:http";
import https from "node:https";
import { parseArgs } from "node:util";
import { loadConfig, parseListen } from "../config/config.js";

const TIMEOUT_MS = 4_000;

/** Where a server listening on `host` answers from this machine (a wildcard means loopback). */
function loopbackFor(host: string | undefined): string {
  if (host === undefined || host === "" || host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "::1";
  return host;
}

/**
 * `dvcr healthcheck`: GET /healthz of the server this configuration describes, exit 0 when it
 * answers 200 (the container image's HEALTHCHECK). It reads the same config file, environment
 * and flags as `serve`, so a changed `listen` or TLS setting is followed without editing the image.
 */
export async function healthcheckCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: "string" }, listen: { type: "string" } }, strict: true });
  const config = loadConfig({ configFile: values.config, listen: values.listen });
  const { host, port } = parseListen(config.listen);
  const client = config.tls ? https : http;
  const status = await new Promise<number>((resolve, reject) => {
    // The probe talks to its own process over loopback: the certificate names the service, not 127.0.0.1.
    const req = client.get({ host: loopbackFor(host), port, path: "/healthz", timeout: TIMEOUT_MS, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.once("error", reject);
  }).catch((err: Error) => {
    process.stderr.write(`dvcr healthcheck: ${config.listen}: ${err.message}\n`);
    return 0;
  });
  if (status !== 200) {
    if (status !== 0) process.stderr.write(`dvcr healthcheck: /healthz answered ${status}\n`);
    process.exitCode = 1;
  }
}
