import pino, { type Logger } from "pino";

/** Structured JSON logs on stdout; `authorization` and cookies are redacted wherever they appear. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "dvcr" },
    redact: { paths: ["*.authorization", "*.headers.authorization", "*.cookie", "password", "*.password"], remove: true },
  });
}
