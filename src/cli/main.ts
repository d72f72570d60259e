#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size: V8's young generation otherwise grows to 2 × 8 MiB during start-up and
// stays resident: 13 MiB of an idle dvcr's RSS, for no measured gain in push or pull throughput
// (bench/: the memory phase; README "Performance"). Only the shebang can set it (V8 sizes the heap
// before any script runs), so `dvcr` and the container get it; `node main.js` does not.
import { parseArgs } from "node:util";
import { failureMessage } from "./failure.js";

// Commands load their modules on demand: `dvcr import` and `dvcr uploader` run as their own small processes (pods)
// and must not pay for the server's (SQLite, Koa, the index) in memory and start-up time.

const HELP = `dvcr — an OCI registry for virtual machine disk images

Usage:
  dvcr serve [--listen HOST:PORT] [--root DIR] [--config FILE] [--log-level LEVEL] [--tls-cert FILE --tls-key FILE]
  dvcr gc [--root DIR | --url URL] [--dry-run] [--grace DURATION] [--keep-repositories FILE]
  dvcr scrub [--root DIR | --url URL] [--repository NAME] [--repair]
  dvcr inspect <repository>[:tag|@digest] [--root DIR | --url URL] [--json]
  dvcr reindex [--root DIR]
  dvcr import SOURCE --to [http://|https://]HOST[:PORT]/REPO[:TAG] [--checksum ALGO:HEX]... [--progress auto|json|none]
  dvcr uploader   (configured by UPLOADER_* environment variables)
  dvcr healthcheck [--config FILE] [--listen HOST:PORT]
  dvcr --help | --version

Commands:
  serve     Run the registry (OCI Distribution-spec v1.1 on http://HOST:PORT/v2/).
  gc        Garbage-collect a stopped registry's root, or a running one (--url); dvcr gc --help
  scrub     Re-hash stored blobs against their digests; dvcr scrub --help
  inspect   What the disk-image index knows about an image (format, sizes, checksums); dvcr inspect --help
  reindex   Inspect every manifest of a stopped registry again; dvcr reindex --help
  import    Import a disk image (HTTP, registry, file) into a registry; with no SOURCE, DVCR's importer env; dvcr import --help
  uploader  Serve one disk upload on /upload, push it as an image, exit; dvcr uploader --help
  healthcheck  Exit 0 when the configured server answers /healthz (the container's HEALTHCHECK)

Options (each also from the environment, and from the YAML config file):
  --listen HOST:PORT   address to listen on              DVCR_LISTEN   default 127.0.0.1:5000
  --root DIR           data root (blobs, uploads, meta.db) DVCR_ROOT   default ./storage
  --config FILE        YAML configuration file            DVCR_CONFIG
  --log-level LEVEL    fatal|error|warn|info|debug|trace  DVCR_LOG_LEVEL default info
  --tls-cert FILE      serve HTTPS with this PEM certificate (chain) DVCR_TLS_CERT
  --tls-key FILE       ... and this PEM private key; both reloaded when they change  DVCR_TLS_KEY
  --debug-listen HOST:PORT  also serve /metrics there (distribution's debug port)  DVCR_DEBUG_LISTEN
Priority: defaults < config file < environment < flags.
`;

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      listen: { type: "string" },
      root: { type: "string" },
      config: { type: "string" },
      "log-level": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "debug-listen": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const { loadConfig } = await import("../config/config.js");
  const { createLogger } = await import("../http/logger.js");
  const { startServer } = await import("../http/server.js");
  const config = loadConfig({ configFile: values.config, listen: values.listen, root: values.root, logLevel: values["log-level"], tlsCert: values["tls-cert"], tlsKey: values["tls-key"], debugListen: values["debug-listen"] });
  const logger = createLogger(config.log.level);
  const running = await startServer(config, logger);
  logger.info({ url: running.url, root: config.root }, `dvcr listening on ${running.url}`);
  // Node is PID 1 in the container: without these handlers SIGTERM would be ignored there.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: cutting the requests still running");
      running.hurry();
      return;
    }
    stopping = true;
    logger.info({ signal, graceMs: config.shutdown.grace }, "shutting down: no new connections, requests in flight may finish");
    running.close({ graceMs: config.shutdown.grace }).then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return serve(rest);
    case "gc":
      return (await import("./gc.js")).gcCommand(rest);
    case "scrub":
      return (await import("./scrub.js")).scrubCommand(rest);
    case "inspect":
      return (await import("./inspect.js")).inspectCommand(rest);
    case "reindex":
      return (await import("./reindex.js")).reindexCommand(rest);
    case "import":
      // Loaded on demand: the importer runs as its own small process (a pod), without the server's modules.
      return (await import("./import.js")).importCommand(rest);
    case "uploader":
      // Loaded on demand, as import: the uploader pod runs only the importer and an HTTP listener.
      return (await import("./uploader.js")).uploaderCommand(rest);
    case "healthcheck":
      return (await import("./healthcheck.js")).healthcheckCommand(rest);
    case "--version":
    case "-v":
      process.stdout.write("dvcr 0.1.0\n");
      return;
    case undefined:
    case "--help":
    case "-h":
    case "help":
      process.stdout.write(HELP);
      return;
    default:
      process.stderr.write(`dvcr: unknown command ${command}\n\n${HELP}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`dvcr: ${failureMessage(err)}\n`);
  process.exit(1);
});
