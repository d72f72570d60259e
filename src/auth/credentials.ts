/** What an `Authorization` header carries, parsed; nothing here is ever logged. */
export type Credentials =
  | { scheme: "none" }
  | { scheme: "basic"; username: string; password: string }
  | { scheme: "bearer"; token: string }
  | { scheme: "invalid"; message: string };

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

export function parseAuthorization(header: string | undefined): Credentials {
  if (header === undefined || header.trim() === "") return { scheme: "none" };
  const match = /^(\S+)\s+(\S+)\s*$/.exec(header.trim());
  if (!match) return { scheme: "invalid", message: "malformed Authorization header" };
  const scheme = match[1]!.toLowerCase();
  const value = match[2]!;
  if (scheme === "basic") {
    if (!BASE64.test(value)) return { scheme: "invalid", message: "malformed Basic credentials" };
    const decoded = Buffer.from(value, "base64").toString("utf8");
    // RFC 7617: the user-id cannot contain a colon, the password may.
    const colon = decoded.indexOf(":");
    if (colon <= 0) return { scheme: "invalid", message: "malformed Basic credentials" };
    return { scheme: "basic", username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (scheme === "bearer") {
    if (!TOKEN68.test(value)) return { scheme: "invalid", message: "malformed Bearer token" };
    return { scheme: "bearer", token: value };
  }
  return { scheme: "invalid", message: `unsupported authorization scheme ${match[1]!.slice(0, 20)}` };
}
