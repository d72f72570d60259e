import { ImportError } from "./errors.js";
import { credentialsFromAuthFile } from "./registry-auth.js";
import { RegistryClient } from "./registry-client.js";
import { createDispatcher } from "./transport.js";
import type { BasicCredentials, ImportDestination } from "./types.js";

/** A registry client and the connection pool behind it. */
export interface Endpoint {
  client: RegistryClient;
  close(): Promise<void>;
}

export interface ImageReference {
  /** `host[:port]` */
  host: string;
  repository: string;
  /** A tag or a digest. */
  reference: string;
  /** Scheme given explicitly (`http://host/...`), if any. */
  scheme?: "http" | "https";
}

function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return name === "localhost" || name === "::1" || /^127\./.test(name);
}

/**
 * The scheme of a registry host: explicit when given; else https, except for loopback hosts and
 * insecure endpoints, which go-containerregistry also reaches over plain HTTP.
 */
export function registryBase(host: string, options: { scheme?: "http" | "https"; insecure?: boolean }): string {
  const scheme = options.scheme ?? (options.insecure || isLoopback(host) ? "http" : "https");
  return `${scheme}://${host}`;
}

/** `[scheme://]host[:port]/repo[:tag|@digest]` (`docker://` accepted), as image references are written. */
export function parseImageReference(input: string): ImageReference {
  let rest = input.trim().replace(/^docker:\/\//, "");
  let scheme: ImageReference["scheme"];
  const explicit = /^(https?):\/\//.exec(rest);
  if (explicit) {
    scheme = explicit[1] as "http" | "https";
    rest = rest.slice(explicit[0].length);
  }
  const slash = rest.indexOf("/");
  const first = slash < 0 ? "" : rest.slice(0, slash);
  const hasHost = first.includes(".") || first.includes(":") || first === "localhost";
  // Docker's rule: without a host part, the name lives on Docker Hub.
  const host = hasHost ? first : "registry-1.docker.io";
  let path = hasHost ? rest.slice(slash + 1) : rest;
  if (!hasHost && !path.includes("/")) path = `library/${path}`;
  let reference = "latest";
  const at = path.indexOf("@");
  if (at >= 0) {
    reference = path.slice(at + 1);
    path = path.slice(0, at);
  } else {
    const colon = path.lastIndexOf(":");
    if (colon >= 0) {
      reference = path.slice(colon + 1);
      path = path.slice(0, colon);
    }
  }
  if (!path || !/^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/.test(path) || !reference) {
    throw new ImportError("invalid", `"${input}" is not an image reference host[:port]/repository[:tag|@digest]`);
  }
  return { host, repository: path, reference, scheme };
}

export function endpoint(base: string, options: { credentials?: BasicCredentials; authFile?: string; caBundle?: string; insecure?: boolean; signal?: AbortSignal }): Endpoint {
  const host = new URL(base).host;
  const credentials = options.credentials ?? (options.authFile ? credentialsFromAuthFile(options.authFile, host) : undefined);
  const dispatcher = createDispatcher({ caBundle: options.caBundle, insecure: options.insecure });
  return {
    client: new RegistryClient({ base, dispatcher, credentials, signal: options.signal }),
    close: () => dispatcher.destroy().catch(() => undefined),
  };
}

export async function destinationClient(destination: ImportDestination, signal?: AbortSignal): Promise<Endpoint> {
  let base = destination.registry;
  if (!/^https?:\/\//.test(base)) base = registryBase(base.replace(/\/+$/, ""), { insecure: destination.insecure });
  try {
    new URL(base);
  } catch {
    throw new ImportError("invalid", `destination registry "${destination.registry}" is not a URL`);
  }
  return endpoint(base, { ...destination, signal });
}
