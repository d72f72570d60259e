import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { importImage, ImportError, isImportError, parseChecksumList, parseImageReference, type ImportRequest, type ImportSource } from "../importer/index.js";
import { progressDisplay, type ProgressMode } from "./import-display.js";
import { importerEnvironment } from "./importer-env.js";
import { failureReport, progressGauges, serveMetrics, stopMetrics, terminationReport, writeTerminationMessage } from "./importer-pod.js";
import { CliUsageError } from "./usage-error.js";

export const IMPORT_HELP = `Usage:
  dvcr import SOURCE --to [http://|https://]HOST[:PORT]/REPO[:TAG] [options]
  dvcr import            (no SOURCE: DVCR's importer environment, IMPORTER_*)

Turn a disk image into a FROM scratch image in a registry: decompress (gz, xz), detect the
format (qcow2, raw, vmdk, vdi, iso), pack one uncompressed disk/<file> layer, push, tag.

SOURCE:
  http(s)://host/path/disk.qcow2.xz      a download (resumed with Range when cut)
  docker://host[:port]/repo[:tag|@digest] an image in another registry
  dvcr://REPO[:TAG|@DIGEST]              another repository of the destination (mounted, no copy)
  PATH                                   a local file; - reads standard input (--file-name NAME)

Options:
  --to REF               destination image; the tag defaults to latest
  --checksum ALGO:HEX    verify the source as downloaded (md5, sha1, sha256, sha512); repeatable
  --ca-bundle FILE       PEM certificates to trust for the source (besides the system's)
  --creds USER:PASS      Basic credentials for the source (or DVCR_SOURCE_CREDENTIALS)
  --authfile FILE        docker config JSON with the source registry's credentials
  --insecure             the source may be plain HTTP or have an unverifiable certificate
  --dest-creds USER:PASS destination credentials (or DVCR_CREDENTIALS)
  --dest-authfile FILE   docker config JSON with the destination's credentials
  --dest-ca-bundle FILE  PEM certificates to trust for the destination
  --dest-insecure        the destination may be plain HTTP or have an unverifiable certificate
  --format docker|oci    manifest media types (default docker, as DVCR's importer)
  --file-name NAME       name of the disk file for a standard-input source
  --progress MODE        auto (a bar on a terminal), json (lines on stdout), none
  --spool-dir DIR        where a decompressed disk is spooled when its size is unknown (default $TMPDIR)
`;

function credentials(text: string | undefined): { username: string; password: string } | undefined {
  if (!text) return undefined;
  const colon = text.indexOf(":");
  if (colon <= 0) throw new CliUsageError("credentials must be USER:PASS");
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

function readPem(file: string | undefined): string | undefined {
  return file ? readFileSync(file, "utf8") : undefined;
}

type ImportFlags = ReturnType<typeof parseImportArgs>["values"];

function parseImportArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      to: { type: "string" },
      checksum: { type: "string", multiple: true },
      "ca-bundle": { type: "string" },
      creds: { type: "string" },
      authfile: { type: "string" },
      insecure: { type: "boolean" },
      "dest-creds": { type: "string" },
      "dest-authfile": { type: "string" },
      "dest-ca-bundle": { type: "string" },
      "dest-insecure": { type: "boolean" },
      format: { type: "string" },
      "file-name": { type: "string" },
      progress: { type: "string" },
      "spool-dir": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

function sourceOf(text: string, values: ImportFlags): ImportSource {
  const caBundle = readPem(values["ca-bundle"]);
  const creds = credentials(values.creds ?? process.env.DVCR_SOURCE_CREDENTIALS);
  if (/^https?:\/\//.test(text)) return { type: "http", url: text, caBundle, credentials: creds, insecure: values.insecure };
  if (text.startsWith("docker://")) return { type: "registry", image: text, caBundle, credentials: creds, insecure: values.insecure, authFile: values.authfile };
  if (text.startsWith("dvcr://")) {
    const rest = text.slice("dvcr://".length);
    const at = rest.indexOf("@");
    const colon = rest.lastIndexOf(":");
    if (at >= 0) return { type: "dvcr", repository: rest.slice(0, at), reference: rest.slice(at + 1) };
    if (colon >= 0) return { type: "dvcr", repository: rest.slice(0, colon), reference: rest.slice(colon + 1) };
    return { type: "dvcr", repository: rest, reference: "latest" };
  }
  if (text === "-") return { type: "stream", body: process.stdin, fileName: values["file-name"] ?? "disk.img" };
  return { type: "file", path: path.resolve(text) };
}

function requestFromArgs(values: ImportFlags, positionals: string[]): Omit<ImportRequest, "signal" | "onProgress"> {
  if (positionals.length !== 1) throw new CliUsageError(`give one SOURCE\n\n${IMPORT_HELP}`);
  if (!values.to) throw new CliUsageError(`--to is required\n\n${IMPORT_HELP}`);
  if (values.creds && values.authfile) throw new CliUsageError("give --creds or --authfile, not both");
  if (values.format && values.format !== "docker" && values.format !== "oci") throw new CliUsageError("--format is docker or oci");
  const target = parseImageReference(values.to);
  if (target.reference.includes(":")) throw new CliUsageError("--to must name a tag, not a digest");
  return {
    source: sourceOf(positionals[0]!, values),
    destination: {
      registry: target.scheme ? `${target.scheme}://${target.host}` : target.host,
      repository: target.repository,
      tag: target.reference,
      credentials: credentials(values["dest-creds"] ?? process.env.DVCR_CREDENTIALS),
      authFile: values["dest-authfile"],
      caBundle: readPem(values["dest-ca-bundle"]),
      insecure: values["dest-insecure"],
      manifestFormat: values.format as "docker" | "oci" | undefined,
    },
    checksums: (values.checksum ?? []).flatMap((c) => parseChecksumList(c)),
    tuning: values["spool-dir"] ? { spoolDir: values["spool-dir"] } : undefined,
  };
}

export async function importCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseImportArgs(args);
  if (values.help) {
    process.stdout.write(IMPORT_HELP);
    return;
  }
  const mode = (values.progress ?? "auto") as ProgressMode;
  if (!["auto", "json", "none"].includes(mode)) throw new CliUsageError("--progress is auto, json or none");
  const fromEnv = positionals.length === 0 && !values.to;
  let env: ReturnType<typeof importerEnvironment> | undefined;
  let request: Omit<ImportRequest, "signal" | "onProgress">;
  try {
    if (fromEnv) {
      env = importerEnvironment(process.env);
      request = env.request;
    } else {
      request = requestFromArgs(values, positionals);
    }
  } catch (err) {
    if (isImportError(err)) throw new CliUsageError(err.message);
    throw err;
  }
  const display = progressDisplay(mode);
  const gauges = progressGauges(env?.ownerUid ?? "");
  const metrics = env?.metricsListen ? await serveMetrics(env.metricsListen, "importer") : undefined;
  const controller = new AbortController();
  const cancel = () => controller.abort();
  process.once("SIGINT", cancel);
  process.once("SIGTERM", cancel);
  try {
    const result = await importImage({
      ...request,
      signal: controller.signal,
      onProgress: (p) => {
        gauges.update(p);
        display.update(p);
      },
    });
    gauges.done(result);
    display.done(result);
    if (env) writeTerminationMessage(env.terminationMessagePath, terminationReport(result), "dvcr import");
  } catch (err) {
    const failure = isImportError(err) ? err : new ImportError("transient", String((err as Error)?.message ?? err));
    display.failed(failure.message);
    if (env) writeTerminationMessage(env.terminationMessagePath, failureReport(failure), "dvcr import");
    process.stderr.write(`dvcr import: ${failure.kind}: ${failure.message}\n`);
    process.exitCode = 1;
  } finally {
    process.off("SIGINT", cancel);
    process.off("SIGTERM", cancel);
    stopMetrics(metrics);
  }
}
