import { parseArgs } from "node:util";
import { imageStats } from "../index/index.js";
import { withStoppedRegistry } from "./offline-registry.js";
import { CliUsageError, TARGET_OPTIONS, printJson } from "./ops-command.js";

export const REINDEX_HELP = `Usage: dvcr reindex [--root DIR] [--config FILE]

Inspect every manifest of a stopped registry again (format, sizes, checksums), wait until all
are done, and print a JSON summary: manifests inspected, tagged images by owner kind and
format, and the seconds it took. A running registry indexes by itself: every push, and at
start-up whatever is missing or was indexed by an older dvcr.

  --root DIR   the data root (default from --config / DVCR_ROOT / ./storage)
`;

export async function reindexCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: TARGET_OPTIONS, strict: true });
  if (values.help) {
    process.stdout.write(REINDEX_HELP);
    return;
  }
  if (values.url) throw new CliUsageError("dvcr reindex works on a stopped registry's --root; a running one indexes by itself");
  const summary = await withStoppedRegistry(values, async (registry, logger) => {
    const started = Date.now();
    registry.images.start(logger);
    const manifests = await registry.images.reindexAll();
    const { images } = await imageStats(registry.meta, { probe: 0, checksum: 0 });
    return { manifests, images, seconds: (Date.now() - started) / 1000 };
  });
  printJson(summary);
}
