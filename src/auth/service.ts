import path from "node:path";
import type { Logger } from "pino";
import { AUTH_DEFAULTS, type AuthConfig } from "../config/auth.js";
import { secretText, WatchedFiles, type WatchOptions } from "../config/watched-file.js";
import { Authenticator, type StaticAccount } from "./authenticator.js";
import { HtpasswdVerifier, parseHtpasswd } from "./htpasswd.js";
import { ensurePrivateKeyFile, privateKeyFromPem, publicKeyFromPem } from "./keys.js";
import { everything, globRules } from "./policy.js";
import { FailureLimiter } from "./rate-limiter.js";
import { TokenIssuer } from "./token-issuer.js";

/** How 401 responses tell clients to authenticate. */
export type ChallengeSettings = { scheme: "basic"; realm: string } | { scheme: "bearer"; service: string; realm?: string };

/**
 * Everything the HTTP layer needs for authentication and authorization, built once from the
 * `auth` section: the authenticator, the brute-force limiter, the token issuer (when the token
 * service is on) and how to challenge. `close()` stops watching the files.
 */
export class AuthService {
  private constructor(
    readonly authenticator: Authenticator,
    readonly limiter: FailureLimiter,
    readonly challenge: ChallengeSettings,
    readonly issuer: TokenIssuer | undefined,
    private readonly watched: WatchedFiles<unknown>[],
  ) {}

  /** `root` is the data root: the generated token key lives there unless a key file is given. */
  static create(config: AuthConfig, root: string, logger: Logger): AuthService {
    const watch: WatchOptions = {
      intervalMs: config.reloadIntervalMs ?? AUTH_DEFAULTS.reloadIntervalMs,
      // File names only: the content of these files is secret.
      onReload: (paths) => logger.info({ files: paths }, "auth: reloaded changed file"),
      onError: (err, paths) => logger.warn({ files: paths, error: err.message }, "auth: could not reload a changed file; keeping the previous one"),
    };
    const watched: WatchedFiles<unknown>[] = [];
    const open = <T>(paths: string[], parse: (c: Buffer[]) => T): WatchedFiles<T> => {
      try {
        const file = new WatchedFiles(paths, parse, watch);
        watched.push(file);
        return file;
      } catch (err) {
        for (const w of watched) w.close();
        throw new Error(`auth: cannot load ${paths.join(", ")}: ${(err as Error).message}`);
      }
    };
    const account = (a: AuthConfig["admin"]): StaticAccount | undefined =>
      a && { username: a.username, password: open([a.passwordFile], secretText) };

    const admin = account(config.admin);
    const puller = account(config.puller);
    const htpasswdFile = config.htpasswd && open([config.htpasswd.path], parseHtpasswd);
    if (htpasswdFile && htpasswdFile.value.skipped > 0) {
      logger.warn({ file: config.htpasswd!.path, skipped: htpasswdFile.value.skipped }, "auth: htpasswd lines that are not bcrypt entries were ignored");
    }
    const jwtKey = config.jwt && open([config.jwt.publicKeyFile], publicKeyFromPem);
    const jwt = config.jwt && { key: () => jwtKey!.value, issuer: config.jwt.issuer, audience: config.jwt.audience, keyId: config.jwt.keyId };

    let issuer: TokenIssuer | undefined;
    if (config.token && config.token.enabled !== false) {
      const keyFile = config.token.keyFile ?? path.join(root, AUTH_DEFAULTS.tokenKeyFile);
      if (ensurePrivateKeyFile(keyFile)) logger.info({ file: keyFile }, "auth: generated a token signing key");
      issuer = new TokenIssuer(open([keyFile], privateKeyFromPem), {
        issuer: config.token.issuer ?? AUTH_DEFAULTS.tokenIssuer,
        service: config.token.service ?? AUTH_DEFAULTS.tokenService,
        expiresIn: config.token.expiresIn ?? AUTH_DEFAULTS.tokenExpiresIn,
      });
    }

    if (!admin && !puller && !htpasswdFile && !jwt && !config.anonymousPull) {
      logger.warn("auth: the auth section configures no account, key or anonymous pull: every request will be refused");
    }
    const authenticator = new Authenticator({
      admin,
      puller,
      htpasswd: htpasswdFile && {
        verifier: new HtpasswdVerifier(() => htpasswdFile.value),
        rules: config.htpasswd!.access ? globRules(config.htpasswd!.access) : everything(),
      },
      jwt,
      ownTokens: issuer?.trust(),
      anonymousPull: config.anonymousPull ?? false,
    });
    const limiter = new FailureLimiter(
      config.rateLimit?.burst ?? AUTH_DEFAULTS.rateLimitBurst,
      config.rateLimit?.perMinute ?? AUTH_DEFAULTS.rateLimitPerMinute,
    );
    const challenge: ChallengeSettings = issuer
      ? { scheme: "bearer", service: issuer.settings.service, realm: config.token!.realm }
      : { scheme: "basic", realm: "dvcr" };
    return new AuthService(authenticator, limiter, challenge, issuer, watched);
  }

  close(): void {
    for (const w of this.watched) w.close();
  }
}
