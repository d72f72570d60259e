#!/usr/bin/env node
import { parseArgs } from "node:util";
import { checkName, listChecks, runConformance, WORKFLOWS, type CheckResult, type Workflow } from "./suite.js";

const HELP = `OCI Distribution-spec v1.1 conformance checks against any registry

Usage: npm run conformance -- --url http://127.0.0.1:5000 [--namespace a/b] [--user U --password P]
                              [--only pull,push,discovery,management] [--json] [--keep]
       npm run conformance -- --list

  --url        the registry (http or https)
  --namespace  repositories are created as <namespace>/<random>-<…> (default: conformance)
  --user, --password
               credentials: Basic, or for the Docker token flow (401 Bearer challenge)
  --only       run only these workflows
  --json       one JSON object per check ({workflow,name,ok,reason?,note?}) instead of PASS/FAIL lines
  --keep       leave what the run pushed (default: delete it at the end where the registry allows)
  --list       print the checks and exit

Prints one line per check, "PASS <workflow>: <check>" or "FAIL <workflow>: <check> — <reason>"
(a passing check that saw one of several behaviours the spec allows adds " — note: …"), and last
"N passed, N failed". Exit status 0 when nothing failed, 1 when a check failed, 2 on usage errors.
`;

function line(r: CheckResult): string {
  if (!r.ok) return `FAIL ${checkName(r)} — ${r.reason}`;
  return r.note ? `PASS ${checkName(r)} — note: ${r.note}` : `PASS ${checkName(r)}`;
}

// Output piped into `head` and closed early: stop quietly.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      namespace: { type: "string" },
      user: { type: "string" },
      password: { type: "string" },
      only: { type: "string" },
      json: { type: "boolean" },
      keep: { type: "boolean" },
      list: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.list) {
    for (const name of listChecks()) process.stdout.write(`${name}\n`);
    return 0;
  }
  if (!values.url) {
    process.stderr.write(HELP);
    return 2;
  }
  const only = values.only?.split(",").map((w) => w.trim()).filter(Boolean);
  for (const w of only ?? []) {
    if (!WORKFLOWS.includes(w as Workflow)) {
      process.stderr.write(`conformance: unknown workflow "${w}" (one of ${WORKFLOWS.join(", ")})\n`);
      return 2;
    }
  }
  if (values.password !== undefined && values.user === undefined) {
    process.stderr.write("conformance: --password needs --user\n");
    return 2;
  }
  const { results } = await runConformance(
    { url: values.url, namespace: values.namespace, user: values.user, password: values.password, only: only as Workflow[] | undefined, keep: values.keep },
    (r) => process.stdout.write(`${values.json ? JSON.stringify(r) : line(r)}\n`),
  );
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
