import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseDuration } from "../config/units.js";
import type { GcReport } from "../gc/collector.js";
import { parseRepositoryName } from "../oci/index.js";
import { CliUsageError, TARGET_OPTIONS, URL_OPTIONS_HELP, callRunningRegistry, printJson, urlTarget, withOfflineRegistry } from "./ops-command.js";

export const GC_HELP = `Usage: dvcr gc [--root DIR | --url URL] [--config FILE] [--dry-run] [--grace DURATION]
               [--keep-repositories FILE]

Garbage collection: delete untagged manifests and unreferenced blobs older than the grace
period, upload sessions idle longer than gc.uploadTtl, and files under blobs/ without metadata.
Prints the report (JSON): repositories, manifests, blobs and bytes freed, duration.

  --root DIR       a stopped registry's data root (default from --config / DVCR_ROOT / ./storage)
  --url URL        a running registry instead (POST URL/api/v1/gc)
${URL_OPTIONS_HELP}  --dry-run        report what would be deleted, delete nothing
  --grace D        keep what is younger than D (e.g. 30m, 1h, 0); default gc.grace (1h)
  --keep-repositories FILE
                   delete every cvi/, vi/ and vd/ repository not listed in FILE (one name per
                   line, # comments): the images whose owner still exists
`;

/** A keep list: one repository per line; blank lines and # comments ignored. */
export function readKeepList(file: string): string[] {
  const names: string[] = [];
  readFileSync(file, "utf8")
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const line = raw.replace(/#.*$/, "").trim();
      if (line === "") return;
      try {
        names.push(parseRepositoryName(line));
      } catch {
        throw new CliUsageError(`${file}:${i + 1}: "${line}" is not a repository name`);
      }
    });
  return names;
}

export async function gcCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...TARGET_OPTIONS, "dry-run": { type: "boolean" }, grace: { type: "string" }, "keep-repositories": { type: "string" } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(GC_HELP);
    return;
  }
  const target = urlTarget(values);
  let graceMs: number | undefined;
  try {
    graceMs = values.grace === undefined ? undefined : parseDuration(values.grace);
  } catch (err) {
    throw new CliUsageError(`--grace: ${(err as Error).message}`);
  }
  const keepRepositories = values["keep-repositories"] === undefined ? undefined : readKeepList(values["keep-repositories"]);
  const dryRun = values["dry-run"] ?? false;
  let report: GcReport;
  if (values.url) {
    report = (await callRunningRegistry(target, "/api/v1/gc", { dryRun, grace: graceMs, keepRepositories })) as GcReport;
  } else {
    report = await withOfflineRegistry(values, (ops) => ops.gc.run(ops.gcOptions({ dryRun, graceMs, keepRepositories }), "cli"));
  }
  printJson(report);
}
