/** A command line the user must fix: printed without a stack trace. */
export class CliUsageError extends Error {}
