import { decodeProtectedHeader, errors, jwtVerify, type JWK, type JWTPayload } from "jose";
import { validate } from "../oci/schema.js";
import type { SigningKey } from "./keys.js";
import { AccessClaimSchema, type Access } from "./scope.js";

export interface JwtTrust {
  /** The current key (a getter: key files are reloaded when they change). */
  key: () => SigningKey;
  issuer: string;
  audience: string;
  /** When set, the header's `kid` must be exactly this. */
  keyId?: string;
}

export type JwtResult =
  | { ok: true; payload: JWTPayload; access: Access[] }
  | { ok: false; message: string };

/** Clock skew between the controller that signs and us (DVCR's plugin allows the same). */
const LEEWAY_SECONDS = 60;

const looksLikeJwt = (text: string) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(text);

/** Whether a Basic password is shaped like a JWT (three base64url parts). */
export function isJwtShaped(text: string): boolean {
  return looksLikeJwt(text);
}

/**
 * Verify a JWT against one trusted key: signature with the key's own algorithm (never the
 * header's choice), `kid`, `iss`, `aud`, `exp` (required) and `nbf` with 60 s of leeway, and a
 * well-formed `access` claim. Failures come back as a message fit for the client: it names
 * what was wrong, never the token or what we expected in secret.
 */
export async function verifyJwt(token: string, trust: JwtTrust): Promise<JwtResult> {
  if (!looksLikeJwt(token)) return { ok: false, message: "token is not a JWT" };
  const key = trust.key();
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return { ok: false, message: "token header is malformed" };
  }
  if (header.alg !== key.alg) return { ok: false, message: `token algorithm ${String(header.alg).slice(0, 16)} is not accepted (${key.alg} required)` };
  if (trust.keyId !== undefined && header.kid !== trust.keyId) return { ok: false, message: "token key id (kid) is not trusted" };
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key.publicJwk as JWK, {
      algorithms: [key.alg],
      issuer: trust.issuer,
      audience: trust.audience,
      clockTolerance: LEEWAY_SECONDS,
      requiredClaims: ["exp"],
    }));
  } catch (err) {
    return { ok: false, message: explain(err) };
  }
  const access = validate(AccessClaimSchema, payload.access ?? []);
  if (!access.success) return { ok: false, message: "token access claim is malformed" };
  return { ok: true, payload, access: access.data };
}

function explain(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "token has expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case "nbf":
        return "token is not valid yet (nbf)";
      case "iat":
        return "token was issued in the future (iat)";
      case "iss":
        return "token issuer is not trusted";
      case "aud":
        return "token audience is not this registry";
      case "exp":
        return "token has no expiry (exp)";
      default:
        return `token claim ${err.claim} is invalid`;
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return "token signature is invalid";
  if (err instanceof errors.JOSEAlgNotAllowed) return "token algorithm is not accepted";
  if (err instanceof errors.JOSEError) return "token is malformed";
  return "token could not be verified";
}
