#!/usr/bin/env node
import { parseArgs } from "node:util";
import { checkName, runConformance, WORKFLOWS, type Workflow } from "./suite.js";

const HELP = `dvcr conformance — OCI Distribution-spec v1.1 checks against any registry

Usage: npm run conformance -- --url http://127.0.0.1:5000 [--namespace a/b] [--user U --password P]
                               [--only pull,push,discovery,management] [--json]
Prints one line per check and, last, "N passed, N failed". Exit status 0 when nothing failed.
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      namespace: { type: "string" },
      user: { type: "string" },
      password: { type: "string" },
      only: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !values.url) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  const only = values.only?.split(",").map((w) => w.trim()) as Workflow[] | undefined;
  for (const w of only ?? []) if (!WORKFLOWS.includes(w)) throw new Error(`unknown workflow ${w}`);
  const credentials = values.user !== undefined ? { user: values.user, password: values.password ?? "" } : undefined;
  const { results } = await runConformance({ url: values.url, namespace: values.namespace, credentials, only }, (r) => {
    if (!values.json) process.stdout.write(r.ok ? `PASS ${checkName(r)}\n` : `FAIL ${checkName(r)} — ${r.reason}\n`);
  });
  if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  const failed = results.filter((r) => !r.ok).length;
  process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`conformance: ${(err as Error).message}\n`);
    process.exit(2);
  },
);
