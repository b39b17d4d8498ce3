import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { AuthConfig } from '@vision/config';
import { FileContent } from '@vision/runtime';
import { VisionError } from '@vision/wire';

/** Who a connection or request acts as. Without auth every client is its own address. */
export interface Principal {
  /** Token `sub`, or `ip:<address>` when auth is disabled: limits and fair share key on it. */
  subject: string;
  /** Stream ids (exact, or a prefix ending in `*`) this principal may send; undefined = any. */
  streams: string[] | undefined;
  /** Model ids this principal may choose; undefined = any. */
  models: string[] | undefined;
  /** Epoch ms; undefined without auth or for tokens without `exp`. */
  expiresAt: number | undefined;
  /** OAuth-style `scope` claim (space-separated) as a list; undefined without auth or without the claim. */
  scopes: string[] | undefined;
  /** The token's `jti`, if it has one (revocation lists name tokens by it). */
  tokenId: string | undefined;
}

/** The claim that restricts stream ids. */
export const STREAMS_CLAIM = 'streams';
/** The claim that restricts model ids. */
export const MODELS_CLAIM = 'models';
/** Operator rights beyond sending frames (`cameras:write`, `events:read`, …), OAuth style. */
export const SCOPE_CLAIM = 'scope';
/** How often a JWKS file's mtime is checked: a rotated key is picked up within this. */
const JWKS_FILE_RECHECK_MS = 5000;
/** How long a fetched remote JWKS is trusted before it is fetched again (unknown key ids refetch sooner). */
const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;

/** HS256 rotation: the secret before JWT_SECRET, verifying until `until` (epoch ms). */
interface PreviousSecret {
  key: Uint8Array;
  until: number;
}

/**
 * Verifies bearer JWTs with jose: HS256 from a shared secret, or RS256/ES256 from a JWKS file
 * (re-read when it changes) or URL (cached, refreshed by jose on unknown `kid` and after 10 min).
 * `exp`, `nbf`, `iss` and `aud` are checked with a clock-skew allowance; `sub` is required.
 * During an HS256 rotation a token the new secret refuses is tried with the previous one, until
 * JWT_SECRET_PREVIOUS_UNTIL (docs/tokens.md).
 */
export class TokenVerifier {
  private constructor(
    private readonly cfg: AuthConfig,
    private readonly key: Uint8Array | JWTVerifyGetKey,
    private readonly algorithms: string[],
    private readonly previous?: PreviousSecret,
  ) {}

  static create(cfg: AuthConfig): TokenVerifier {
    if (cfg.secret) {
      const { previousSecret, previousSecretUntil } = cfg;
      const previous =
        previousSecret && previousSecretUntil !== undefined
          ? { key: new TextEncoder().encode(previousSecret), until: previousSecretUntil }
          : undefined;
      return new TokenVerifier(cfg, new TextEncoder().encode(cfg.secret), ['HS256'], previous);
    }
    if (cfg.jwksUrl) {
      return new TokenVerifier(cfg, createRemoteJWKSet(new URL(cfg.jwksUrl), { cacheMaxAge: JWKS_CACHE_MAX_AGE_MS }), [
        'RS256',
        'ES256',
      ]);
    }
    if (cfg.jwksFile) return new TokenVerifier(cfg, fileJwks(cfg.jwksFile), ['RS256', 'ES256']);
    throw new VisionError('E_CONFIG', 'authentication needs JWT_SECRET, JWKS_FILE or JWKS_URL (or AUTH_DISABLED=true)');
  }

  async verify(token: string): Promise<Principal> {
    const { payload, windowEnd } = await this.check(token);
    const [streams, models] = [STREAMS_CLAIM, MODELS_CLAIM].map((claim) => {
      const v = payload[claim];
      if (v !== undefined && !(Array.isArray(v) && v.every((s) => typeof s === 'string'))) {
        throw new VisionError('E_UNAUTHORIZED', `the ${claim} claim must be a list of strings`);
      }
      return v as string[] | undefined;
    });
    const scope = payload[SCOPE_CLAIM];
    if (scope !== undefined && typeof scope !== 'string')
      throw new VisionError('E_UNAUTHORIZED', `the ${SCOPE_CLAIM} claim must be a space-separated string`);
    const expiry = payload.exp !== undefined ? payload.exp * 1000 : undefined;
    return {
      subject: `sub:${payload.sub}`,
      streams,
      models,
      expiresAt: windowEnd === undefined ? expiry : Math.min(expiry ?? Infinity, windowEnd),
      scopes: scope === undefined ? undefined : scope.split(' ').filter(Boolean),
      tokenId: typeof payload.jti === 'string' ? payload.jti : undefined,
    };
  }

  /**
   * The token's claims, and for a token only the previous secret signed, when it stops counting.
   * That end is moved earlier by the clock-skew allowance because sessions close at expiry plus the
   * allowance: an open socket closes at JWT_SECRET_PREVIOUS_UNTIL itself, and the SDK refreshes before.
   */
  private async check(token: string): Promise<{ payload: JWTPayload; windowEnd?: number }> {
    const opts = {
      algorithms: this.algorithms,
      clockTolerance: this.cfg.clockSkewS,
      requiredClaims: ['sub'],
      ...(this.cfg.issuer ? { issuer: this.cfg.issuer } : {}),
      ...(this.cfg.audience ? { audience: this.cfg.audience } : {}),
    };
    try {
      return { payload: (await jwtVerify(token, this.key, opts)).payload };
    } catch (err) {
      const previous = this.previous;
      if (!(err instanceof errors.JWSSignatureVerificationFailed) || !previous || Date.now() >= previous.until)
        throw refusal(err);
      try {
        const { payload } = await jwtVerify(token, previous.key, opts);
        return { payload, windowEnd: previous.until - this.cfg.clockSkewS * 1000 };
      } catch (previousErr) {
        throw refusal(previousErr);
      }
    }
  }
}

function refusal(err: unknown): VisionError {
  if (err instanceof errors.JWTExpired) return new VisionError('E_TOKEN_EXPIRED', 'token expired', { cause: err });
  return new VisionError('E_UNAUTHORIZED', `token refused: ${(err as Error).message}`, { cause: err });
}

/** A principal may send `streamId` if it has no restriction or a pattern matches. */
export function streamAllowed(p: Principal, streamId: string | undefined): boolean {
  if (!p.streams) return true;
  if (streamId === undefined) return false;
  return p.streams.some((s) => (s.endsWith('*') ? streamId.startsWith(s.slice(0, -1)) : s === streamId));
}

/**
 * The scope of a camera gateway's tokens. An edge counts such a connection against its subject
 * (`MAX_CONNECTIONS_PER_SUBJECT`), not its address, and gives each camera (stream id) its own frame
 * rate and share of the backlog: one gateway is many cameras, not one abusive address
 * (docs/security.md). Only the site's key can grant it; a token without it is limited per address.
 */
export const GATEWAY_SCOPE = 'gateway';

/** Whether `p` connects cameras on behalf of a camera gateway (its token has the gateway scope). */
export function isGatewayPrincipal(p: Principal): boolean {
  return p.scopes?.includes(GATEWAY_SCOPE) ?? false;
}

/**
 * Whose frame rate and share of the backlog a frame counts against: its subject's, or for a camera
 * gateway its camera's (subject and stream id), as if each camera had a token of its own.
 */
export function frameTenant(p: Principal, streamId: string | undefined): string {
  return streamId !== undefined && isGatewayPrincipal(p) ? `${p.subject}#${streamId}` : p.subject;
}

/** Whether `p` holds `scope`. Without authentication (no verifier) every caller does. */
export function hasScope(p: Principal, scope: string, authEnabled: boolean): boolean {
  return !authEnabled || (p.scopes?.includes(scope) ?? false);
}

/** A JWKS file, re-read when its content changes (key rotation without a restart). */
function fileJwks(path: string): JWTVerifyGetKey {
  const file = new FileContent(path);
  let current: JWTVerifyGetKey | undefined;
  let checkedAt = 0;
  // One look at a time: a second verification while the first still reads the file would see no
  // change and no content yet, and refuse a valid token.
  let looking: Promise<JWTVerifyGetKey> | undefined;
  const look = async () => {
    checkedAt = Date.now();
    if ((await file.look()) || !current) {
      if (file.content === undefined) throw new Error(`JWKS_FILE ${path} does not exist`);
      current = createLocalJWKSet(JSON.parse(file.content) as JSONWebKeySet);
    }
    return current;
  };
  const load = (): Promise<JWTVerifyGetKey> => {
    if (current && Date.now() - checkedAt < JWKS_FILE_RECHECK_MS) return Promise.resolve(current);
    looking ??= look().finally(() => (looking = undefined));
    return looking;
  };
  return async (header, token) => (await load())(header, token);
}
