import { spawn } from "node:child_process";
import { DEFAULT_CONFIG, type Config } from "../../src/config/config.js";
import { eventually, type Kubectl } from "./kubectl.js";

/** The cvi section of a test server's config: progress written every 100 ms. */
export const cviConfig = (over: Partial<Config["cvi"]> = {}) => ({ cvi: { ...DEFAULT_CONFIG.cvi, progressInterval: 100, ...over } });

/** The real curl, as the seed's user runs it. */
export function curl(args: string[], input?: NodeJS.ReadableStream): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("curl", args, { stdio: [input ? "pipe" : "ignore", "pipe", "pipe"] });
    if (input) input.pipe(child.stdin!);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export async function phaseOf(k: Kubectl, name: string): Promise<string> {
  return k.ok(["get", "cvi", name, "-o", "jsonpath={.status.phase}"]);
}

/** The object as JSON once its phase is `phase`. */
export async function untilPhase(k: Kubectl, name: string, phase: string, timeoutMs = 30_000): Promise<any> {
  return eventually(
    async () => {
      const o = JSON.parse(await k.ok(["get", "cvi", name, "-o", "json"]));
      return o.status?.phase === phase ? o : undefined;
    },
    timeoutMs,
    `${name} to be ${phase}`,
  );
}

export function readyCondition(o: any): { reason: string; message: string } {
  return o.status.conditions.find((c: any) => c.type === "Ready");
}
