import { parseArgs } from "node:util";
import { getImage, type ImageEntry } from "../index/index.js";
import { isRegistryError, parseDigest, parseRepositoryName, parseTag } from "../oci/index.js";
import { imageTable } from "./image-table.js";
import { withStoppedRegistry } from "./offline-registry.js";
import { CliUsageError, TARGET_OPTIONS, URL_OPTIONS_HELP, printJson, urlTarget } from "./ops-command.js";
import { callRegistry, type UrlTarget } from "./registry-client.js";

export const INSPECT_HELP = `Usage: dvcr inspect <repository>[:tag|@digest] [--root DIR | --url URL] [--config FILE] [--json]

What the disk-image index knows about an image, without pulling it: owner (cvi/vi/vd), disk
format, virtual, stored and unpacked sizes, CD-ROM, sha256 and md5 of the disk file, and the
importer's source-image-* labels (with any mismatch). The tag defaults to latest.

  --url URL    a running registry (GET URL/api/v1/images/<repository>)
${URL_OPTIONS_HELP}  --root DIR   a stopped registry's data root (default from --config / DVCR_ROOT / ./storage)
  --json       the API's JSON instead of a table
`;

type Reference = { tag: string } | { digest: string };

/** `cvi/x`, `cvi/x:v1` or `cvi/x@sha256:…` (a repository name never holds ':' or '@'). */
export function parseImageReference(input: string): { repository: string; reference: Reference } {
  try {
    const at = input.indexOf("@");
    if (at >= 0) return { repository: parseRepositoryName(input.slice(0, at)), reference: { digest: parseDigest(input.slice(at + 1)).value } };
    const colon = input.lastIndexOf(":");
    if (colon >= 0) return { repository: parseRepositoryName(input.slice(0, colon)), reference: { tag: parseTag(input.slice(colon + 1)) } };
    return { repository: parseRepositoryName(input), reference: { tag: "latest" } };
  } catch {
    throw new CliUsageError(`"${input}" is not <repository>[:tag|@digest]`);
  }
}

async function fromRunningRegistry(target: UrlTarget, repository: string, reference: Reference): Promise<ImageEntry> {
  const query = "tag" in reference ? `tag=${encodeURIComponent(reference.tag)}` : `digest=${encodeURIComponent(reference.digest)}`;
  return (await callRegistry(target, `/api/v1/images/${repository}?${query}`)) as ImageEntry;
}

export async function inspectCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { ...TARGET_OPTIONS, json: { type: "boolean" } }, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(INSPECT_HELP);
    return;
  }
  if (positionals.length !== 1) throw new CliUsageError(`give one image, e.g. dvcr inspect cvi/ubuntu:latest\n\n${INSPECT_HELP}`);
  const target = urlTarget(values);
  const { repository, reference } = parseImageReference(positionals[0]!);
  const image = values.url
    ? await fromRunningRegistry(target, repository, reference)
    : await withStoppedRegistry(values, async (registry) => {
        try {
          return await getImage(registry.meta, repository, reference);
        } catch (err) {
          if (isRegistryError(err)) throw new CliUsageError(`${positionals[0]}: ${err.message}`);
          throw err;
        }
      });
  if (values.json) printJson(image);
  else process.stdout.write(imageTable(image));
}
