import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ImportDestination, ImportProgress, ImportResult, ImportTuning } from "../importer/index.js";
import type { UploadFailure } from "./upload-failure.js";
import { sendJson, UploadHandler } from "./upload-server.js";

export interface UploaderOptions {
  destination: ImportDestination;
  /** Port of `/upload` (0: any free one). */
  listenPort: number;
  /** Port of `/healthz` (0: any free one). */
  healthzPort: number;
  /** An upload must start within this long, after the start and again after a failed upload. */
  waitTimeoutMs: number;
  tuning?: ImportTuning;
  onProgress?: (p: ImportProgress) => void;
  log(line: string): void;
}

/** How the uploader ended: the one thing the process reports before it exits. */
export type UploaderOutcome =
  | { kind: "uploaded"; result: ImportResult }
  | { kind: "timeout"; message: string }
  | { kind: "stopped"; message: string };

export interface RunningUploader {
  uploadPort: number;
  healthzPort: number;
  /** Resolves once, when the uploader is over and both listeners are closed. */
  outcome: Promise<UploaderOutcome>;
  /** SIGTERM: cancel an upload in flight, close the listeners. */
  stop(reason: string): void;
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    // No host: every address, IPv6 and IPv4, as a pod's port is reached.
    server.listen(port, () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // A client still sending a refused body is not waited for.
    setTimeout(() => server.closeAllConnections(), 1000).unref();
  });
}

function healthzServer(): http.Server {
  return http.createServer((req, res) => {
    const pathname = new URL(req.url ?? "/", "http://uploader").pathname;
    if (pathname === "/healthz" && (req.method === "GET" || req.method === "HEAD")) void sendJson(res, 200, { message: "ok" });
    else void sendJson(res, 404, { message: "only GET /healthz here" });
  });
}

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

/**
 * DVCR's uploader for one image: serve `/upload` until one upload is packed and pushed (exit),
 * none starts in time (fail), or the pod is stopped. A failed upload is answered and another
 * awaited, with the wait re-armed.
 */
export async function startUploader(options: UploaderOptions): Promise<RunningUploader> {
  let settle!: (outcome: UploaderOutcome) => void;
  const settled = new Promise<UploaderOutcome>((resolve) => (settle = resolve));
  let waitTimer: NodeJS.Timeout | undefined;
  let finishing = false;
  let lastFailure: UploadFailure | undefined;
  const armWait = () => {
    clearTimeout(waitTimer);
    if (finishing) return;
    waitTimer = setTimeout(() => {
      const after = lastFailure ? ` (the last upload failed: ${lastFailure.message})` : "";
      finish({ kind: "timeout", message: `no upload started within ${formatMs(options.waitTimeoutMs)}${after}` });
    }, options.waitTimeoutMs);
  };
  const handler = new UploadHandler({
    destination: options.destination,
    tuning: options.tuning,
    onProgress: options.onProgress,
    log: options.log,
    onStart: () => clearTimeout(waitTimer),
    onSuccess: (result) => finish({ kind: "uploaded", result }),
    onFailure: (failure) => {
      lastFailure = failure;
      armWait();
    },
  });
  const upload = http.createServer({ requestTimeout: 0 }, (req, res) => void handler.handle(req, res));
  upload.on("checkContinue", (req, res) => void handler.checkContinue(req, res));
  const healthz = healthzServer();
  function finish(outcome: UploaderOutcome): void {
    if (finishing) return;
    finishing = true;
    clearTimeout(waitTimer);
    void (async () => {
      // An outcome other than a success cancels an upload in flight and waits for its clean-up.
      if (outcome.kind !== "uploaded") await handler.stop();
      await Promise.all([close(upload), close(healthz)]);
      settle(outcome);
    })();
  }
  const uploadPort = await listen(upload, options.listenPort);
  const healthzPort = await listen(healthz, options.healthzPort).catch(async (err) => {
    await close(upload);
    throw err;
  });
  armWait();
  return { uploadPort, healthzPort, outcome: settled, stop: (reason) => finish({ kind: "stopped", message: reason }) };
}
