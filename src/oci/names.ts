import { RegistryError } from "./errors.js";
import { parseDigest, type Digest } from "./digest.js";

// Distribution-spec v1.1 "Pulling manifests": <name> and <reference> grammars.
const NAME_GRAMMAR = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_GRAMMAR = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Name plus host must fit in 255 characters; we leave room for a typical registry host. */
export const MAX_NAME_LENGTH = 255;

/**
 * Validate a repository name. The grammar already excludes "..", "." and empty components,
 * so a valid name can never traverse a path; names never touch the filesystem anyway.
 */
export function parseRepositoryName(input: string): string {
  if (input.length === 0 || input.length > MAX_NAME_LENGTH || !NAME_GRAMMAR.test(input)) {
    throw new RegistryError("NAME_INVALID", "invalid repository name", { detail: { name: input } });
  }
  return input;
}

export function isValidTag(input: string): boolean {
  return TAG_GRAMMAR.test(input);
}

export function parseTag(input: string): string {
  if (!isValidTag(input)) {
    throw new RegistryError("TAG_INVALID", "invalid tag", { detail: { tag: input } });
  }
  return input;
}

/** A manifest reference: a tag, or a digest (anything with a colon, as the spec's grammar). */
export type Reference = { kind: "tag"; tag: string } | { kind: "digest"; digest: Digest };

export function parseReference(input: string): Reference {
  if (input.includes(":")) return { kind: "digest", digest: parseDigest(input) };
  return { kind: "tag", tag: parseTag(input) };
}
