import { isImportError } from "../importer/index.js";
import { startUploader, UPLOAD_PATH } from "../uploader/index.js";
import { progressGauges, serveMetrics, stopMetrics, terminationReport, writeTerminationMessage } from "./importer-pod.js";
import { podEnvironment } from "./importer-env.js";
import { uploaderEnvironment } from "./uploader-env.js";
import { CliUsageError } from "./usage-error.js";

export const UPLOADER_HELP = `Usage:
  dvcr uploader          (DVCR's uploader environment)

Serve one upload of a disk image: PUT or POST the disk (raw, or gz/xz compressed) to /upload;
it is packed as a FROM scratch disk/<file> image and pushed. Exits 0 after one success.

Environment:
  UPLOADER_DESTINATION_ENDPOINT     HOST[:PORT]/REPO:TAG to push to (required)
  UPLOADER_DESTINATION_AUTH_CONFIG  docker config JSON with the destination's credentials
  DESTINATION_INSECURE_TLS          true: the destination may be plain HTTP or have an unverifiable certificate
  LISTEN_PORT                       port of /upload (default 8444)
  HEALTHZ_PORT                      port of /healthz (default 8080)
  UPLOADER_WAIT_TIMEOUT             an upload must start within this long (default 10m; dvcr's own)
  OWNER_UID, IMPORTER_METRICS_LISTEN, TERMINATION_MESSAGE_PATH   as for dvcr import
`;

const NAME = "dvcr uploader";
/** SIGTERM: an upload in flight gets this long to cancel and free its data. */
const STOP_GRACE_MS = 10_000;

function log(line: string): void {
  process.stderr.write(`${NAME}: ${line}\n`);
}

export async function uploaderCommand(args: string[]): Promise<void> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(UPLOADER_HELP);
    return;
  }
  if (args.length > 0) throw new CliUsageError(`dvcr uploader takes no arguments\n\n${UPLOADER_HELP}`);
  let env;
  try {
    env = uploaderEnvironment(process.env);
  } catch (err) {
    if (!isImportError(err)) throw err;
    // The controller reads why the pod failed from its termination message.
    writeTerminationMessage(podEnvironment(process.env).terminationMessagePath, { "error-message": err.message }, NAME);
    throw new CliUsageError(err.message);
  }
  const gauges = progressGauges(env.ownerUid);
  const metrics = env.metricsListen ? await serveMetrics(env.metricsListen, "uploader") : undefined;
  const uploader = await startUploader({ ...env, onProgress: (p) => gauges.update(p), log }).catch((err) => {
    stopMetrics(metrics);
    throw err;
  });
  const { destination } = env;
  log(`listening on port ${uploader.uploadPort} (${UPLOAD_PATH}), healthz on port ${uploader.healthzPort}; pushing to ${destination.registry}/${destination.repository}:${destination.tag}`);
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    // A second signal does not wait for the clean-up.
    if (stopping) process.exit(1);
    stopping = true;
    setTimeout(() => process.exit(1), STOP_GRACE_MS).unref();
    uploader.stop(`the uploader was stopped (${signal}) before an upload completed`);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  const outcome = await uploader.outcome;
  stopMetrics(metrics);
  if (outcome.kind === "uploaded") {
    gauges.done(outcome.result);
    writeTerminationMessage(env.terminationMessagePath, terminationReport(outcome.result), NAME);
    log("done");
  } else {
    writeTerminationMessage(env.terminationMessagePath, { "error-message": outcome.message }, NAME);
    log(outcome.message);
    process.exitCode = 1;
  }
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
}
