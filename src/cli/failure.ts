import { CliUsageError } from "./usage-error.js";

/**
 * What a failed command prints: one clear line (a usage error keeps the help it carries), with
 * the cause's words (EADDRINUSE, ECONNREFUSED, a certificate error); the stack only at
 * DVCR_LOG_LEVEL=debug or trace, for a bug report.
 */
export function failureMessage(err: unknown, env: NodeJS.ProcessEnv = process.env): string {
  if (!(err instanceof Error)) return String(err);
  if (err instanceof CliUsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) return err.message;
  if (env.DVCR_LOG_LEVEL === "debug" || env.DVCR_LOG_LEVEL === "trace") return String(err.stack ?? err);
  const cause = err.cause instanceof Error && !err.message.includes(err.cause.message) ? `: ${err.cause.message}` : "";
  return `${err.message}${cause}`.replace(/\s*\n\s*/g, " ");
}
