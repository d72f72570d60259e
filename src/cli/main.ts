#!/usr/bin/env node
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/config.js";
import { createLogger } from "../http/logger.js";
import { startServer } from "../http/server.js";
import { RootLockedError } from "../meta/index.js";
import { gcCommand } from "./gc.js";
import { importCommand } from "./import.js";
import { inspectCommand } from "./inspect.js";
import { CliUsageError } from "./ops-command.js";
import { reindexCommand } from "./reindex.js";
import { scrubCommand } from "./scrub.js";

const HELP = `dvcr — an OCI registry for virtual machine disk images

Usage:
  dvcr serve [--listen HOST:PORT] [--root DIR] [--config FILE] [--log-level LEVEL] [--tls-cert FILE --tls-key FILE]
  dvcr gc [--root DIR | --url URL] [--dry-run] [--grace DURATION] [--keep-repositories FILE]
  dvcr scrub [--root DIR | --url URL] [--repository NAME] [--repair]
  dvcr inspect <repository>[:tag|@digest] [--root DIR | --url URL] [--json]
  dvcr reindex [--root DIR]
  dvcr import SOURCE --to [http://|https://]HOST[:PORT]/REPO[:TAG] [--checksum ALGO:HEX]... [--progress auto|json|none]
  dvcr --help | --version

Commands:
  serve     Run the registry (OCI Distribution-spec v1.1 on http://HOST:PORT/v2/).
  gc        Garbage-collect a stopped registry's root, or a running one (--url); dvcr gc --help
  scrub     Re-hash stored blobs against their digests; dvcr scrub --help
  inspect   What the disk-image index knows about an image (format, sizes, checksums); dvcr inspect --help
  reindex   Inspect every manifest of a stopped registry again; dvcr reindex --help
  import    Import a disk image (HTTP, registry, file) into a registry; with no SOURCE, DVCR's importer env; dvcr import --help

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
  const config = loadConfig({ configFile: values.config, listen: values.listen, root: values.root, logLevel: values["log-level"], tlsCert: values["tls-cert"], tlsKey: values["tls-key"], debugListen: values["debug-listen"] });
  const logger = createLogger(config.log.level);
  const running = await startServer(config, logger);
  logger.info({ url: running.url, root: config.root }, `dvcr listening on ${running.url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
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
      return gcCommand(rest);
    case "scrub":
      return scrubCommand(rest);
    case "inspect":
      return inspectCommand(rest);
    case "reindex":
      return reindexCommand(rest);
    case "import":
      return importCommand(rest);
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
  const message = err instanceof ConfigError || err instanceof CliUsageError || err instanceof RootLockedError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? (err as Error).message : String((err as Error).stack ?? err);
  process.stderr.write(`dvcr: ${message}\n`);
  process.exit(1);
});
