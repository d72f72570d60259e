import { parseDuration } from "../config/units.js";
import { credentialsFromAuthFile, ImportError, type ImportDestination } from "../importer/index.js";
import { isValidTag } from "../oci/index.js";
import { destinationFromEnv, podEnvironment, type PodEnvironment } from "./importer-env.js";

/** DVCR's uploader pod: configured by environment only, as the importer. */
export interface UploaderEnvironment extends PodEnvironment {
  destination: ImportDestination;
  listenPort: number;
  healthzPort: number;
  waitTimeoutMs: number;
}

/** DVCR's limit: an upload must start within 10 minutes. */
const DEFAULT_WAIT_MS = 10 * 60_000;

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65535) throw new ImportError("invalid", `${name} "${text}" is not a port (0-65535)`);
  return value;
}

function waitTimeout(env: NodeJS.ProcessEnv): number {
  const text = env.UPLOADER_WAIT_TIMEOUT?.trim();
  if (!text) return DEFAULT_WAIT_MS;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    throw new ImportError("invalid", `UPLOADER_WAIT_TIMEOUT: ${(err as Error).message}`);
  }
  if (ms <= 0) throw new ImportError("invalid", "UPLOADER_WAIT_TIMEOUT must be longer than 0");
  return ms;
}

/**
 * What every upload would fail on is refused at the start, where the pod's status shows it,
 * instead of answering each user's upload with it: a tag outside the grammar, an unreadable
 * docker config.
 */
function checkedDestination(env: NodeJS.ProcessEnv): ImportDestination {
  const destination = destinationFromEnv(env, "UPLOADER_DESTINATION_ENDPOINT", "UPLOADER_DESTINATION_AUTH_CONFIG");
  if (!isValidTag(destination.tag)) throw new ImportError("invalid", `UPLOADER_DESTINATION_ENDPOINT: "${destination.tag}" is not a valid tag`);
  if (destination.authFile) credentialsFromAuthFile(destination.authFile, destination.registry.replace(/^https?:\/\//, ""));
  return destination;
}

export function uploaderEnvironment(env: NodeJS.ProcessEnv): UploaderEnvironment {
  return {
    destination: checkedDestination(env),
    listenPort: port(env, "LISTEN_PORT", 8444),
    healthzPort: port(env, "HEALTHZ_PORT", 8080),
    // dvcr's own: DVCR's uploader has the 10 minutes fixed.
    waitTimeoutMs: waitTimeout(env),
    ...podEnvironment(env),
  };
}
