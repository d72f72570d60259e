import { parseArgs } from "node:util";
import type { ScrubReport } from "../gc/scrub.js";
import { parseRepositoryName } from "../oci/index.js";
import { CliUsageError, TARGET_OPTIONS, URL_OPTIONS_HELP, callRunningRegistry, printJson, urlTarget, withOfflineRegistry } from "./ops-command.js";

export const SCRUB_HELP = `Usage: dvcr scrub [--root DIR | --url URL] [--config FILE] [--repository NAME] [--repair]

Re-hash stored blobs and report (JSON) any whose bytes do not match their digest, or whose
file is missing. Exit status 3 when damage was found.

  --root DIR         a stopped registry's data root (default from --config / DVCR_ROOT / ./storage)
  --url URL          a running registry instead (POST URL/api/v1/scrub)
${URL_OPTIONS_HELP}  --repository NAME  only the blobs of this repository
  --repair           move damaged blobs to quarantine/ and forget them, so that pushing the
                     image again stores good bytes
`;

/** Exit status when a scrub found damage, so scripts and cron jobs notice. */
export const DAMAGE_EXIT_CODE = 3;

export async function scrubCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...TARGET_OPTIONS, repository: { type: "string" }, repair: { type: "boolean" } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(SCRUB_HELP);
    return;
  }
  const target = urlTarget(values);
  let repository: string | undefined;
  try {
    repository = values.repository === undefined ? undefined : parseRepositoryName(values.repository);
  } catch {
    throw new CliUsageError(`--repository: "${values.repository}" is not a repository name`);
  }
  const repair = values.repair ?? false;
  const report = values.url
    ? ((await callRunningRegistry(target, "/api/v1/scrub", { repository, repair })) as ScrubReport)
    : await withOfflineRegistry(values, (ops) => ops.scrub.run({ repository, repair }, "cli"));
  printJson(report);
  if (report.corrupt.length + report.missing.length > 0) process.exitCode = DAMAGE_EXIT_CODE;
}
