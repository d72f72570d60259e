import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { ImportError, parseChecksumList, parseImageReference, type ImportDestination, type ImportRequest, type ImportSource } from "../importer/index.js";

/**
 * DVCR's importer contract: the importer pod is configured by environment only. Unknown or
 * missing values fail with a clear message before anything is fetched.
 */
export interface ImporterEnvironment extends PodEnvironment {
  request: Omit<ImportRequest, "signal" | "onProgress">;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ImportError("invalid", `${name} is not set`);
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  return /^(1|true|yes|on)$/i.test(env[name]?.trim() ?? "");
}

/** Every certificate file of IMPORTER_CERT_DIR, as one PEM bundle. */
function certDirBundle(dir: string | undefined): string | undefined {
  if (!dir) return undefined;
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /\.(crt|pem|cer)$/i.test(n)).sort();
  } catch (err) {
    throw new ImportError("invalid", `IMPORTER_CERT_DIR ${dir}: ${(err as Error).message}`);
  }
  if (names.length === 0) return undefined;
  return names.map((n) => readFileSync(path.join(dir, n), "utf8")).join("\n");
}

function sourceFromEnv(env: NodeJS.ProcessEnv, host: string): ImportSource {
  const kind = required(env, "IMPORTER_SOURCE");
  const endpoint = required(env, "IMPORTER_ENDPOINT");
  const caBundle = certDirBundle(env.IMPORTER_CERT_DIR);
  const insecure = flag(env, "INSECURE_TLS");
  const key = env.IMPORTER_ACCESS_KEY_ID;
  const credentials = key ? { username: key, password: env.IMPORTER_SECRET_KEY ?? "" } : undefined;
  switch (kind) {
    case "http":
      return { type: "http", url: endpoint, caBundle, credentials, insecure };
    case "registry":
      return { type: "registry", image: endpoint, caBundle, credentials, insecure, authFile: env.IMPORTER_AUTH_CONFIG || undefined };
    case "dvcr": {
      // Another image of the destination registry, written as a reference on its host.
      const ref = parseImageReference(endpoint);
      if (ref.host !== host) throw new ImportError("invalid", `IMPORTER_ENDPOINT ${endpoint} is not on the destination registry ${host}`);
      return { type: "dvcr", repository: ref.repository, reference: ref.reference };
    }
    case "filesystem":
      return { type: "file", path: endpoint };
    default:
      throw new ImportError("invalid", `IMPORTER_SOURCE "${kind}" is not supported (http, registry, dvcr, filesystem)`);
  }
}

/** The pod-level settings the importer and the uploader share (README: "Importer", "dvcr uploader"). */
export interface PodEnvironment {
  ownerUid: string;
  /** HOST:PORT of the metrics endpoint, or null for none. */
  metricsListen: string | null;
  terminationMessagePath: string;
}

export function podEnvironment(env: NodeJS.ProcessEnv): PodEnvironment {
  const metrics = env.IMPORTER_METRICS_LISTEN?.trim() ?? "0.0.0.0:8443";
  return {
    ownerUid: env.OWNER_UID ?? "",
    metricsListen: metrics === "" || metrics === "off" ? null : metrics,
    terminationMessagePath: env.TERMINATION_MESSAGE_PATH || "/dev/termination-log",
  };
}

/**
 * The image to push, from `<endpointVar>` (`host[:port]/repo:tag`), `<authConfigVar>` (a docker
 * config JSON file) and DESTINATION_INSECURE_TLS; a digest is refused (a push needs a tag).
 */
export function destinationFromEnv(env: NodeJS.ProcessEnv, endpointVar: string, authConfigVar: string): ImportDestination {
  const target = parseImageReference(required(env, endpointVar));
  if (target.reference.includes(":")) throw new ImportError("invalid", `${endpointVar} must name a tag, not a digest`);
  return {
    registry: target.scheme ? `${target.scheme}://${target.host}` : target.host,
    repository: target.repository,
    tag: target.reference,
    insecure: flag(env, "DESTINATION_INSECURE_TLS"),
    authFile: env[authConfigVar] || undefined,
  };
}

/** The host[:port] a destination names (its registry without a scheme). */
function destinationHost(destination: ImportDestination): string {
  return destination.registry.replace(/^https?:\/\//, "");
}

export function importerEnvironment(env: NodeJS.ProcessEnv): ImporterEnvironment {
  const destination = destinationFromEnv(env, "IMPORTER_DESTINATION_ENDPOINT", "IMPORTER_DESTINATION_AUTH_CONFIG");
  const request: ImporterEnvironment["request"] = {
    source: sourceFromEnv(env, destinationHost(destination)),
    destination,
    checksums: env.IMPORTER_CHECKSUMS ? parseChecksumList(env.IMPORTER_CHECKSUMS) : [],
  };
  return { request, ...podEnvironment(env) };
}
