import type { Dispatcher } from "undici";
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

/** Hosts go-containerregistry lets speak plain HTTP without being told: loopback and RFC 1918. */
function isLocal(host: string): boolean {
  const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return name === "localhost" || name === "::1" || /^127\./.test(name) || /^10\./.test(name) || /^192\.168\./.test(name) || /^172\.(1[6-9]|2\d|3[01])\./.test(name);
}

/**
 * The base URL of a registry host, as go-containerregistry picks it: the scheme when given;
 * else https, and for an insecure endpoint (`*_INSECURE_TLS=true`) or a local one, https if it
 * answers and plain http if it does not.
 */
export async function registryBase(host: string, options: { scheme?: "http" | "https"; insecure?: boolean }, dispatcher?: Dispatcher): Promise<string> {
  if (options.scheme) return `${options.scheme}://${host}`;
  if (!(options.insecure || isLocal(host)) || !dispatcher) return `https://${host}`;
  try {
    const res = await dispatcher.request({ origin: `https://${host}`, path: "/v2/", method: "GET", headersTimeout: 5000, bodyTimeout: 5000 });
    await res.body.dump().catch(() => undefined);
    return `https://${host}`;
  } catch {
    return `http://${host}`;
  }
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

interface EndpointOptions {
  credentials?: BasicCredentials;
  authFile?: string;
  caBundle?: string;
  insecure?: boolean;
  signal?: AbortSignal;
}

/** A client for the registry at `host` (scheme picked as registryBase does, unless given). */
export async function endpoint(host: string, scheme: "http" | "https" | undefined, options: EndpointOptions): Promise<Endpoint> {
  const credentials = options.credentials ?? (options.authFile ? credentialsFromAuthFile(options.authFile, host) : undefined);
  // Certificate checks off only for the probe of an insecure endpoint, as go-containerregistry.
  const dispatcher = createDispatcher({ caBundle: options.caBundle, insecure: options.insecure });
  const base = await registryBase(host, { scheme, insecure: options.insecure }, dispatcher);
  return {
    client: new RegistryClient({ base, dispatcher, credentials, signal: options.signal }),
    close: () => dispatcher.destroy().catch(() => undefined),
  };
}

export async function destinationClient(destination: ImportDestination, signal?: AbortSignal): Promise<Endpoint> {
  const explicit = /^(https?):\/\//.exec(destination.registry);
  let host: string;
  try {
    host = new URL(explicit ? destination.registry : `https://${destination.registry}`).host;
  } catch {
    throw new ImportError("invalid", `destination registry "${destination.registry}" is not a URL or host[:port]`);
  }
  return endpoint(host, explicit?.[1] as "http" | "https" | undefined, { ...destination, signal });
}
