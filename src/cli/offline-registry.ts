import pino, { type Logger } from "pino";
import { loadConfig } from "../config/config.js";
import { openRegistry, type OpenRegistry } from "../assembly/open-registry.js";

/**
 * Open a stopped registry's data root for the index commands (RootLockedError while a server
 * runs on it; ask the server with --url instead). Logs go to stderr: stdout is the output.
 */
export async function withStoppedRegistry<T>(
  target: { root?: string; config?: string; "log-level"?: string },
  fn: (registry: OpenRegistry, logger: Logger) => Promise<T>,
): Promise<T> {
  const config = loadConfig({ configFile: target.config, root: target.root, logLevel: target["log-level"] });
  const logger = pino({ level: config.log.level, base: { service: "dvcr" } }, pino.destination(2));
  const registry = await openRegistry(config, logger);
  try {
    return await fn(registry, logger);
  } finally {
    await registry.close();
  }
}
