import { randomUUID } from 'node:crypto';
import { importJWK, importPKCS8, SignJWT, type CryptoKey, type JWK, type KeyObject } from 'jose';

type KeyLike = CryptoKey | KeyObject;
import { VisionError } from '@vision/wire';
import { MODELS_CLAIM, SCOPE_CLAIM, STREAMS_CLAIM } from './token-verifier';

/** What a token grants: who (`sub`), which streams and models, which operator scopes, for how long. */
export interface TokenClaims {
  subject: string;
  /** Stream ids or prefixes ending in `*`; undefined: any stream. */
  streams?: string[];
  /** Model ids; undefined: any model. */
  models?: string[];
  /** Operator scopes (`cameras:write`, `events:read`, …). */
  scopes?: string[];
  ttlS: number;
  issuer?: string;
  audience?: string;
}

/** The site's signing key: the HS256 secret edges verify with, or a private key (PEM or JWK) for RS256/ES256. */
export type SigningKey = { secret: string } | { privateKey: string; alg: 'RS256' | 'ES256'; kid?: string };

/**
 * Signs a token the edges accept. Every token gets a `jti`, so it can be revoked before it expires.
 * Returns the token and its id.
 */
export async function mintToken(
  claims: TokenClaims,
  key: SigningKey,
): Promise<{ token: string; tokenId: string; expiresAt: number }> {
  if (!claims.subject) throw new VisionError('E_CONFIG', 'a token needs a subject');
  if (!(claims.ttlS > 0)) throw new VisionError('E_CONFIG', 'a token needs a positive lifetime');
  const now = Math.floor(Date.now() / 1000);
  const tokenId = randomUUID();
  const payload: Record<string, unknown> = {
    ...(claims.streams ? { [STREAMS_CLAIM]: claims.streams } : {}),
    ...(claims.models ? { [MODELS_CLAIM]: claims.models } : {}),
    ...(claims.scopes?.length ? { [SCOPE_CLAIM]: claims.scopes.join(' ') } : {}),
  };
  let jwt = new SignJWT(payload)
    .setSubject(claims.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + claims.ttlS)
    .setJti(tokenId);
  if (claims.issuer) jwt = jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt = jwt.setAudience(claims.audience);
  let signing: KeyLike | Uint8Array;
  if ('secret' in key) {
    jwt = jwt.setProtectedHeader({ alg: 'HS256', typ: 'JWT' });
    signing = new TextEncoder().encode(key.secret);
  } else {
    jwt = jwt.setProtectedHeader({ alg: key.alg, typ: 'JWT', ...(key.kid ? { kid: key.kid } : {}) });
    signing = await privateKey(key.privateKey, key.alg);
  }
  return { token: await jwt.sign(signing), tokenId, expiresAt: (now + claims.ttlS) * 1000 };
}

async function privateKey(text: string, alg: 'RS256' | 'ES256'): Promise<KeyLike> {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('{')) return (await importJWK(JSON.parse(trimmed) as JWK, alg)) as KeyLike;
    return await importPKCS8(trimmed, alg);
  } catch (err) {
    throw new VisionError(
      'E_CONFIG',
      `the signing key is not a PKCS#8 PEM or JWK private key for ${alg}: ${(err as Error).message}`,
    );
  }
}
