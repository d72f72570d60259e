import pino, { type DestinationStream, type Logger } from "pino";

/**
 * Structured JSON logs on stdout (or `destination`: tests read what was logged);
 * `authorization` and cookies are redacted wherever they appear.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: "dvcr" },
    redact: { paths: ["*.authorization", "*.headers.authorization", "*.cookie", "password", "*.password"], remove: true },
  };
  return destination ? pino(options, destination) : pino(options);
}
