import { SignJWT, type JWTPayload } from 'jose';

/** A test secret long enough for HS256 (JWT_SECRET must be at least 32 characters). */
export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

/**
 * Signs an HS256 token. `exp`/`nbf`/`iat` are epoch seconds like the claims themselves;
 * defaults: sub "camera-1", expiring in an hour.
 */
export async function signTestToken(claims: JWTPayload = {}, secret = TEST_JWT_SECRET): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: 'camera-1', exp: now + 3600, iat: now, ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secret));
}
