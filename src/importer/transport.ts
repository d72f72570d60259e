import { rootCertificates } from "node:tls";
import { EnvHttpProxyAgent, interceptors, type Dispatcher } from "undici";

export interface TransportOptions {
  /** PEM text, trusted in addition to the system roots (as go-containerregistry adds a cert dir). */
  caBundle?: string;
  /** Skip certificate verification (INSECURE_TLS). */
  insecure?: boolean;
  /** A server that sends no response headers for this long is given up on (the stall timeout) [10 min]. */
  headersTimeoutMs?: number;
}

/**
 * One connection pool per endpoint configuration. Proxies come from `http_proxy`, `https_proxy`
 * and `no_proxy` (upper case too), as curl and Go read them; the TLS options apply to the origin
 * whether it is reached directly or through a proxy's CONNECT tunnel.
 */
export function createDispatcher(options: TransportOptions = {}): Dispatcher {
  const tls = {
    ...(options.caBundle ? { ca: [...rootCertificates, options.caBundle] } : {}),
    ...(options.insecure ? { rejectUnauthorized: false } : {}),
  };
  const agent = new EnvHttpProxyAgent({
    connect: tls,
    requestTls: tls,
    // Disk downloads idle while the pipeline behind them is busy: the stall timer, not undici's
    // 5-minute body timeout, decides when a quiet connection is dead.
    bodyTimeout: 0,
    headersTimeout: options.headersTimeoutMs ?? 10 * 60_000,
    keepAliveTimeout: 30_000,
  });
  // Download links redirect (mirrors, object-store presigned URLs); registries redirect blob GETs.
  return agent.compose(interceptors.redirect({ maxRedirections: 10 }));
}

export function basicAuthorization(credentials: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
}
