import { runCommand, type CommandResult } from "./command.js";

/** skopeo against our plain-HTTP registry on 127.0.0.1 (TLS verification off on the docker:// side). */
export function skopeo(...args: string[]): Promise<CommandResult> {
  return runCommand("skopeo", args);
}

export interface SkopeoInspect {
  Digest: string;
  Layers: string[];
  RepoTags: string[];
}

export async function skopeoInspect(reference: string): Promise<SkopeoInspect> {
  const { stdout } = await skopeo("inspect", "--tls-verify=false", reference);
  return JSON.parse(stdout) as SkopeoInspect;
}

export async function skopeoListTags(reference: string): Promise<string[]> {
  const { stdout } = await skopeo("list-tags", "--tls-verify=false", reference);
  return (JSON.parse(stdout) as { Tags: string[] }).Tags;
}
