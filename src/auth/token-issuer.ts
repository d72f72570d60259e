import { randomUUID } from "node:crypto";
import { SignJWT, type JWK } from "jose";
import type { WatchedFiles } from "../config/watched-file.js";
import type { JwtTrust } from "./jwt.js";
import { thumbprint, type SigningKey } from "./keys.js";
import type { Access } from "./scope.js";

export interface TokenSettings {
  issuer: string;
  /** The `service` of challenges and the `aud` of tokens. */
  service: string;
  expiresIn: number;
}

/** The Docker token response (both spellings of the token, as distribution's clients read either). */
export interface IssuedToken {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}

/**
 * Signs the tokens of our Docker token service with a key of ours; its public half is served
 * as JWKS, and `trust()` is how the registry verifies the tokens it gets back.
 */
export class TokenIssuer {
  constructor(
    private readonly key: WatchedFiles<SigningKey>,
    readonly settings: TokenSettings,
  ) {}

  private kid(key: SigningKey): string {
    return thumbprint(key.publicJwk);
  }

  async issue(subject: string, granted: Access[], requested: Access[]): Promise<IssuedToken> {
    const key = this.key.value;
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access: granted, requested_access: requested })
      .setProtectedHeader({ alg: key.alg, kid: this.kid(key), typ: "JWT" })
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.service)
      .setSubject(subject)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + this.settings.expiresIn)
      .setJti(randomUUID())
      .sign(key.privateJwk as JWK);
    return { token, access_token: token, expires_in: this.settings.expiresIn, issued_at: new Date(now * 1000).toISOString() };
  }

  jwks(): { keys: JWK[] } {
    const key = this.key.value;
    return { keys: [{ ...(key.publicJwk as JWK), kid: this.kid(key), alg: key.alg, use: "sig" }] };
  }

  /** How the registry verifies our tokens: our key, our issuer, our service, the key's kid. */
  trust(): JwtTrust {
    const current = () => this.key.value;
    const kid = (key: SigningKey) => this.kid(key);
    return {
      key: current,
      issuer: this.settings.issuer,
      audience: this.settings.service,
      get keyId() {
        return kid(current());
      },
    };
  }
}
