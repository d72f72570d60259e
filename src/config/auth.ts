import * as v from "valibot";
import { intAtLeast, nonEmpty, record, strictObject } from "../oci/schema.js";

/**
 * The `auth` and `tls` sections of the configuration. Both are optional: without `auth` the
 * registry is open (the embedded default), without `tls` it serves plain HTTP. Defaults of the
 * optional keys are filled in by `resolveAuthSettings`, so that a partial section given by a
 * test or a YAML file never has to spell them out.
 */

/** distribution's action names; `*` is every action (and the only one `registry:catalog` knows). */
export const ACTIONS = ["pull", "push", "delete", "*"] as const;
const Action = v.picklist(ACTIONS);

/** A repository glob: the name grammar's characters plus `*` (one component) and `**` (any). */
export const REPOSITORY_GLOB = /^[a-z0-9._\-/*]+$/;

/** An absolute URL (the token realm clients are sent to). */
export const absoluteUrl = v.pipe(v.string(), v.check((s) => URL.canParse(s), "must be an absolute URL"));

const Account = strictObject({
  // A colon cannot be sent in a Basic username (it separates the password).
  username: v.pipe(v.string(), v.minLength(1), v.regex(/^[^:]+$/, "username must not contain ':'")),
  passwordFile: nonEmpty,
});

export const AuthConfigSchema = strictObject({
  /** Every action on every repository, and the catalog. */
  admin: v.optional(Account),
  /** Pull on every repository (the nodes). */
  puller: v.optional(Account),
  /** Basic users whose password is a JWT of this issuer get exactly the token's `access` claim. */
  jwt: v.optional(
    strictObject({
      issuer: nonEmpty,
      audience: nonEmpty,
      /** When set, the token header's `kid` must equal it (DVCR pins "dvcr"). */
      keyId: v.optional(nonEmpty),
      /** PEM public key (SPKI): EC P-256 → ES256, RSA → RS256, Ed25519 → EdDSA. */
      publicKeyFile: nonEmpty,
    }),
  ),
  htpasswd: v.optional(
    strictObject({
      path: nonEmpty,
      /** Repository glob → actions for every htpasswd user; without it they may do everything. */
      access: v.optional(record(v.pipe(v.string(), v.regex(REPOSITORY_GLOB, "a repository glob")), v.pipe(v.array(Action), v.minLength(1)))),
    }),
  ),
  /** Pull without credentials. Default false. */
  anonymousPull: v.optional(v.boolean()),
  /** The Docker token service: present (and not `enabled: false`) → 401s challenge with Bearer. */
  token: v.optional(
    strictObject({
      enabled: v.optional(v.boolean()),
      /** `iss` of the tokens we issue. Default "dvcr-token-service". */
      issuer: v.optional(nonEmpty),
      /** `service` of the challenge and `aud` of the tokens. Default "dvcr". */
      service: v.optional(nonEmpty),
      /** Absolute URL of the token endpoint; default: <scheme>://<Host of the request>/auth/token. */
      realm: v.optional(absoluteUrl),
      /** Token lifetime in seconds. Default 300. */
      expiresIn: v.optional(v.pipe(intAtLeast(30), v.maxValue(24 * 3600))),
      /** PEM private key (PKCS#8) that signs tokens; generated (EC P-256) at first start if absent. */
      keyFile: v.optional(nonEmpty),
    }),
  ),
  /** Failed authentications per client address: `burst` at once, then `perMinute`; beyond → 429. */
  rateLimit: v.optional(strictObject({ burst: v.optional(intAtLeast(1)), perMinute: v.optional(v.pipe(v.number(), v.finite(), v.gtValue(0))) })),
  /** How often password, key and htpasswd files are checked for changes (ms). Default 2000. */
  reloadIntervalMs: v.optional(intAtLeast(10)),
});
export type AuthConfig = v.InferOutput<typeof AuthConfigSchema>;

export const TlsConfigSchema = strictObject({
  cert: nonEmpty,
  key: nonEmpty,
  /** How often the pair is checked for changes (ms). Default 2000. */
  reloadIntervalMs: v.optional(intAtLeast(10)),
});
export type TlsConfig = v.InferOutput<typeof TlsConfigSchema>;

export const AUTH_DEFAULTS = {
  tokenIssuer: "dvcr-token-service",
  tokenService: "dvcr",
  tokenExpiresIn: 300,
  tokenKeyFile: "auth/token-signing-key.pem",
  rateLimitBurst: 10,
  rateLimitPerMinute: 10,
  reloadIntervalMs: 2000,
} as const;

type Plain = Record<string, unknown>;

/** Drop undefined leaves and the objects they leave empty, so env/flags never invent a section. */
export function definedOnly(value: Plain): Plain {
  const out: Plain = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const inner = definedOnly(v as Plain);
      if (Object.keys(inner).length > 0) out[k] = inner;
    } else {
      out[k] = v;
    }
  }
  return out;
}

function booleanEnv(value: string | undefined): boolean | string | undefined {
  if (value === undefined || value === "") return undefined;
  if (/^(true|1|yes)$/i.test(value)) return true;
  if (/^(false|0|no)$/i.test(value)) return false;
  return value; // the schema refuses it with a message naming the key
}

/** The DVCR_AUTH_* and DVCR_TLS_* variables as a partial configuration. */
export function authFromEnv(env: NodeJS.ProcessEnv): Plain {
  const v = (name: string) => env[name] || undefined;
  return definedOnly({
    auth: {
      admin: { username: v("DVCR_AUTH_ADMIN_USERNAME"), passwordFile: v("DVCR_AUTH_ADMIN_PASSWORD_FILE") },
      puller: { username: v("DVCR_AUTH_PULLER_USERNAME"), passwordFile: v("DVCR_AUTH_PULLER_PASSWORD_FILE") },
      jwt: {
        issuer: v("DVCR_AUTH_JWT_ISSUER"),
        audience: v("DVCR_AUTH_JWT_AUDIENCE"),
        keyId: v("DVCR_AUTH_JWT_KEY_ID"),
        publicKeyFile: v("DVCR_AUTH_JWT_PUBLIC_KEY_FILE"),
      },
      htpasswd: { path: v("DVCR_AUTH_HTPASSWD_PATH") },
      anonymousPull: booleanEnv(env.DVCR_AUTH_ANONYMOUS_PULL),
      token: {
        enabled: booleanEnv(env.DVCR_AUTH_TOKEN_ENABLED),
        service: v("DVCR_AUTH_TOKEN_SERVICE"),
        realm: v("DVCR_AUTH_TOKEN_REALM"),
        keyFile: v("DVCR_AUTH_TOKEN_KEY_FILE"),
      },
    },
    tls: { cert: v("DVCR_TLS_CERT"), key: v("DVCR_TLS_KEY") },
  });
}
