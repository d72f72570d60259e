import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import * as v from "valibot";
import { intAtLeast, nonEmpty, numberOrString, strictObject, validate } from "../oci/schema.js";
import { scheduleProblem } from "./schedule.js";
import { parseByteSize, parseDuration } from "./units.js";
import { AuthConfigSchema, TlsConfigSchema, absoluteUrl, authFromEnv, definedOnly } from "./auth.js";
import { describeIssue } from "./strict.js";

/** A setting written for people ("1h", "256MiB") or as a plain number, parsed to a number. */
function humanNumber(parse: (value: string | number) => number) {
  return v.pipe(
    numberOrString(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        return parse(dataset.value);
      } catch (err) {
        addIssue({ message: (err as Error).message });
        return NEVER;
      }
    }),
  );
}

/** A duration ("1h", "90s") or milliseconds; stored as milliseconds. */
const Duration = humanNumber(parseDuration);

/** A byte size ("256MiB") or bytes; stored as bytes. */
const ByteSize = humanNumber(parseByteSize);

/** A cron expression (5 fields as crontab, or 6 with leading seconds) or "off". */
const Schedule = v.pipe(
  v.string(),
  v.transform((pattern) => pattern.trim()),
  v.rawCheck(({ dataset, addIssue }) => {
    const problem = dataset.typed ? scheduleProblem(dataset.value) : undefined;
    if (problem !== undefined) addIssue({ message: problem });
  }),
);

/** HOST:PORT, or :PORT for every interface (as distribution's `addr: :5001`). */
const ListenAddress = (key: string) => v.pipe(v.string(), v.regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/, `${key} must be HOST:PORT or :PORT`));

/**
 * The one typed configuration. Sources in increasing priority: defaults < YAML file < env
 * (DVCR_*) < command-line flags. Validated once here; nothing else reads env or files.
 */
const ConfigSchema = strictObject({
  listen: ListenAddress("listen"),
  root: nonEmpty,
  log: strictObject({ level: v.picklist(["fatal", "error", "warn", "info", "debug", "trace", "silent"]) }),
  /**
   * Connection timeouts. The idle ones count time without a byte moving, never a transfer's
   * total: a multi-GiB push or pull at any steady pace is never cut.
   */
  http: strictObject({
    /** A request body from which nothing arrives for this long is cut (a stalled upload holds fds). */
    bodyIdleTimeout: Duration,
    /** A response body the client reads nothing of for this long is cut (each pull holds 8 MiB of blocks). */
    sendIdleTimeout: Duration,
    /** Time for a request's headers to arrive. */
    headersTimeout: Duration,
    /** A kept-alive connection without a request for this long is closed. */
    keepAliveTimeout: Duration,
    /** Connections at once; more are refused at accept (each can hold a socket and an upload file). */
    maxConnections: intAtLeast(1),
  }),
  storage: strictObject({
    /** Manifests above this size are refused with 413. */
    maxManifestBytes: intAtLeast(1),
    /** fsync blob files and their directory before making them visible (never turn off in production). */
    fsync: v.boolean(),
    /**
     * Write uploads with O_DIRECT, bypassing the page cache (turned off by itself on a filesystem
     * that refuses it). Off only to compare, or on a filesystem that accepts but mishandles it.
     */
    directIo: v.boolean(),
    /**
     * Free space kept on the volume: uploads stop with 507 before free space drops below the
     * larger of `bytes` and `percent` of the capacity (room for SQLite's own writes and deletes).
     */
    reserve: strictObject({ bytes: ByteSize, percent: v.pipe(v.number(), v.minValue(0), v.maxValue(50)) }),
  }),
  delete: strictObject({ enabled: v.boolean() }),
  gc: strictObject({
    /** When garbage collection runs (cron), or "off". */
    schedule: Schedule,
    /** Untagged manifests and unreferenced blobs younger than this are kept (pushes in flight). */
    grace: Duration,
    /** Upload sessions idle longer than this are purged with their temp files. */
    uploadTtl: Duration,
  }),
  scrub: strictObject({
    /** When every stored blob is re-hashed (cron), or "off". */
    schedule: Schedule,
  }),
  /** The disk-image index: every pushed image is inspected in the background (src/index/). */
  index: strictObject({
    /** Checksum passes at once; each streams a whole disk (CPU and disk bandwidth). */
    checksumConcurrency: v.pipe(intAtLeast(1), v.maxValue(16)),
    /** Time budget of one checksum pass ("4h"). */
    checksumTimeout: Duration,
    /** A gzip layer expanding more than this many times its stored size is judged a gzip bomb. */
    maxGzipRatio: v.pipe(v.number(), v.finite(), v.minValue(2)),
    /** Tar entries per layer beyond which it is judged a tar bomb. */
    maxTarEntries: intAtLeast(1),
  }),
  shutdown: strictObject({
    /**
     * On SIGTERM, requests in flight get this long to finish before their connections are cut
     * (shorter than Kubernetes' default 30 s terminationGracePeriodSeconds, so the cut is ours).
     */
    grace: Duration,
  }),
  /** ClusterVirtualImage API and lifecycle (src/cvi/): what status URLs say and how long uploads wait. */
  cvi: strictObject({
    /** Host (and port) of `status.target.registryURL`: `<registryHost>/cvi/<name>:latest`. */
    registryHost: nonEmpty,
    /** Bases of `status.imageUploadURLs` (a token is appended); external defaults to this server's URL + /upload. */
    uploadURL: strictObject({ external: v.optional(absoluteUrl), inCluster: absoluteUrl }),
    /** An Upload image with no upload started this long after it began waiting fails (WaitForUserUploadTimeout). */
    uploadTimeout: Duration,
    /** Where imagePullSecrets are mounted: `<secretsDir>/<namespace>/<name>/.dockerconfigjson`. */
    secretsDir: v.optional(v.string()),
    /** How often a provisioning image's progress is written to its status. */
    progressInterval: Duration,
    /** Changes kept for watches to resume from (older resourceVersions get 410 Expired). */
    watchHistory: intAtLeast(10),
  }),
  /** Absent: an open registry (the embedded default). See config/auth.ts. */
  auth: v.optional(AuthConfigSchema),
  /** Absent: plain HTTP. */
  tls: v.optional(TlsConfigSchema),
  /** `listen`: also serve /metrics on this HOST:PORT, as distribution's `http.debug.addr` (absent: off). */
  debug: v.optional(strictObject({ listen: v.optional(ListenAddress("debug.listen")) })),
});
export type Config = v.InferOutput<typeof ConfigSchema>;

export const DEFAULT_CONFIG: Config = {
  listen: "127.0.0.1:5000",
  root: "./storage",
  log: { level: "info" },
  http: { bodyIdleTimeout: 60_000, sendIdleTimeout: 60_000, headersTimeout: 60_000, keepAliveTimeout: 65_000, maxConnections: 1024 },
  storage: { maxManifestBytes: 4 * 1024 * 1024, fsync: true, directIo: true, reserve: { bytes: 256 * 1024 * 1024, percent: 1 } },
  delete: { enabled: true },
  // Daily at 02:00, as DVCR's maintenance GC; scrub weekly (it reads every byte) on Sunday 03:00.
  gc: { schedule: "0 2 * * *", grace: 60 * 60 * 1000, uploadTtl: 24 * 60 * 60 * 1000 },
  scrub: { schedule: "0 3 * * 0" },
  index: { checksumConcurrency: 1, checksumTimeout: 4 * 60 * 60 * 1000, maxGzipRatio: 100, maxTarEntries: 10_000 },
  shutdown: { grace: 25_000 },
  cvi: {
    registryHost: "dvcr.d8-virtualization.svc",
    uploadURL: { inCluster: "http://dvcr.d8-virtualization.svc/upload" },
    uploadTimeout: 10 * 60 * 1000,
    progressInterval: 1000,
    watchHistory: 10_000,
  },
};

/** Settings given on the command line (already parsed by the CLI). */
export interface ConfigOverrides {
  configFile?: string;
  listen?: string;
  root?: string;
  logLevel?: string;
  tlsCert?: string;
  tlsKey?: string;
  debugListen?: string;
}

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function merge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isPlain(v) && isPlain(out[k]) ? merge(out[k] as Plain, v) : v;
  }
  return out;
}

export class ConfigError extends Error {}

/**
 * The YAML parser, loaded (synchronously, as loadConfig is) only when there is a file to read:
 * a server configured by env and flags alone does not keep its ~70 modules in memory.
 */
function parseYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)("yaml") as typeof import("yaml");
  return yaml.parse(text);
}

/** Numbers from the environment; anything else is passed through for the schema to refuse. */
function numberOrUndefined(value: string | undefined): number | string | undefined {
  if (!value) return undefined;
  return /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
}

/** "true"/"false" become booleans; anything else is left for the schema to reject by name. */
function booleanOrUndefined(value: string | undefined): boolean | string | undefined {
  if (!value) return undefined;
  if (value === "true") return true;
  if (value === "false") return false;
  return value;
}

export function loadConfig(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  let merged: Plain = DEFAULT_CONFIG as unknown as Plain;
  const file = overrides.configFile ?? env.DVCR_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, "utf8"));
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    if (parsed != null && !isPlain(parsed)) throw new ConfigError(`config file ${file} must hold a YAML mapping`);
    merged = merge(merged, (parsed ?? {}) as Plain);
  }
  merged = merge(merged, {
    listen: env.DVCR_LISTEN || undefined,
    root: env.DVCR_ROOT || undefined,
    debug: { listen: env.DVCR_DEBUG_LISTEN || undefined },
    http: { bodyIdleTimeout: env.DVCR_HTTP_BODY_IDLE_TIMEOUT || undefined, sendIdleTimeout: env.DVCR_HTTP_SEND_IDLE_TIMEOUT || undefined },
    log: { level: env.DVCR_LOG_LEVEL || undefined },
    gc: { schedule: env.DVCR_GC_SCHEDULE || undefined, grace: env.DVCR_GC_GRACE || undefined, uploadTtl: env.DVCR_UPLOAD_TTL || undefined },
    scrub: { schedule: env.DVCR_SCRUB_SCHEDULE || undefined },
    shutdown: { grace: env.DVCR_SHUTDOWN_GRACE || undefined },
    cvi: {
      registryHost: env.DVCR_CVI_REGISTRY_HOST || undefined,
      uploadURL: { external: env.DVCR_CVI_UPLOAD_URL_EXTERNAL || undefined, inCluster: env.DVCR_CVI_UPLOAD_URL_IN_CLUSTER || undefined },
      uploadTimeout: env.DVCR_CVI_UPLOAD_TIMEOUT || undefined,
      secretsDir: env.DVCR_CVI_SECRETS_DIR || undefined,
    },
    storage: { directIo: booleanOrUndefined(env.DVCR_STORAGE_DIRECT_IO), reserve: { bytes: env.DVCR_STORAGE_RESERVE_BYTES || undefined, percent: numberOrUndefined(env.DVCR_STORAGE_RESERVE_PERCENT) } },
  });
  merged = merge(merged, authFromEnv(env));
  merged = merge(merged, { listen: overrides.listen, root: overrides.root, log: { level: overrides.logLevel }, debug: { listen: overrides.debugListen } });
  merged = merge(merged, definedOnly({ tls: { cert: overrides.tlsCert, key: overrides.tlsKey } }));
  const result = validate(ConfigSchema, merged);
  if (!result.success) {
    const msg = result.issues.map(describeIssue).join("; ");
    throw new ConfigError(`invalid configuration: ${msg}`);
  }
  return { ...result.data, root: path.resolve(result.data.root) };
}

/** HOST:PORT → host and port; `:PORT` gives no host (every interface). */
export function parseListen(listen: string): { host: string | undefined; port: number } {
  const i = listen.lastIndexOf(":");
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  return { host: host === "" ? undefined : host, port: Number(listen.slice(i + 1)) };
}
