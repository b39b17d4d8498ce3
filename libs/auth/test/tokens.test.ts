import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, importSPKI } from 'jose';
import { describe, expect, it } from 'vitest';
import type { AuthConfig } from '@vision/config';
import { hasScope, mintToken, TokenVerifier } from '../src';
import { sleep } from '@vision/testing';

const base: AuthConfig = {
  disabled: undefined,
  secret: undefined,
  previousSecret: undefined,
  previousSecretUntil: undefined,
  jwksFile: undefined,
  jwksUrl: undefined,
  issuer: undefined,
  audience: undefined,
  clockSkewS: 0,
  allowedOrigins: [],
  allowNoOrigin: true,
  trustedProxies: [],
};

async function jwksFileFor(alg: 'RS256' | 'ES256', kid: string): Promise<{ file: string; pem: string }> {
  const pair =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const pub = await importSPKI(pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), alg);
  const file = join(mkdtempSync(join(tmpdir(), 'jwks-')), 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(pub)), kid, alg, use: 'sig' }] }));
  return { file, pem };
}

function jwks(file: string): Record<string, unknown>[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { keys: Record<string, unknown>[] }).keys;
}

describe('tokens', () => {
  it('mints HS256 tokens the verifier accepts with claims, jti and scopes; another secret is refused', async () => {
    const secret = 'k'.repeat(40);
    const { token, tokenId } = await mintToken(
      {
        subject: 'gate-3',
        streams: ['gate-*'],
        models: ['general'],
        scopes: ['cameras:read'],
        ttlS: 60,
        issuer: 'site',
        audience: 'edges',
      },
      { secret },
    );
    const p = await TokenVerifier.create({ ...base, secret, issuer: 'site', audience: 'edges' }).verify(token);
    expect(p).toMatchObject({
      subject: 'sub:gate-3',
      streams: ['gate-*'],
      models: ['general'],
      scopes: ['cameras:read'],
      tokenId,
    });
    expect(p.expiresAt! - Date.now()).toBeGreaterThan(55_000);
    expect(hasScope(p, 'cameras:read', true)).toBe(true);
    expect(hasScope(p, 'cameras:write', true)).toBe(false);
    await expect(TokenVerifier.create({ ...base, secret: 'x'.repeat(40) }).verify(token)).rejects.toMatchObject({
      code: 'E_UNAUTHORIZED',
    });
    await expect(TokenVerifier.create({ ...base, secret, audience: 'other' }).verify(token)).rejects.toMatchObject({
      code: 'E_UNAUTHORIZED',
    });
  });

  for (const alg of ['RS256', 'ES256'] as const) {
    it(`verifies ${alg} tokens against a JWKS file, and refuses one signed by a key not in it`, async () => {
      const site = await jwksFileFor(alg, 'site-1');
      const stranger = await jwksFileFor(alg, 'site-1');
      const verifier = TokenVerifier.create({ ...base, jwksFile: site.file });
      const good = await mintToken({ subject: 'cam', ttlS: 60 }, { privateKey: site.pem, alg, kid: 'site-1' });
      expect((await verifier.verify(good.token)).subject).toBe('sub:cam');
      const forged = await mintToken({ subject: 'cam', ttlS: 60 }, { privateKey: stranger.pem, alg, kid: 'site-1' });
      await expect(verifier.verify(forged.token)).rejects.toMatchObject({ code: 'E_UNAUTHORIZED' });
    });
  }

  it('in an HS256 rotation accepts tokens of the previous secret until the window ends, never past it', async () => {
    const [secret, previousSecret] = ['n'.repeat(40), 'o'.repeat(40)];
    const rotation = { ...base, secret, previousSecret, clockSkewS: 5 };
    const old = await mintToken({ subject: 'cam', ttlS: 3600 }, { secret: previousSecret });
    const fresh = await mintToken({ subject: 'cam', ttlS: 3600 }, { secret });
    const until = Date.now() + 60_000;
    const open = TokenVerifier.create({ ...rotation, previousSecretUntil: until });
    // An old-key token counts until the window's end (less the skew the session adds back), a new one until its exp.
    expect((await open.verify(old.token)).expiresAt).toBe(until - 5000);
    expect((await open.verify(fresh.token)).expiresAt).toBe(fresh.expiresAt);
    const ended = TokenVerifier.create({ ...rotation, previousSecretUntil: Date.now() - 1 });
    await expect(ended.verify(old.token)).rejects.toMatchObject({ code: 'E_UNAUTHORIZED' });
    expect((await ended.verify(fresh.token)).subject).toBe('sub:cam');
    const stranger = await mintToken({ subject: 'cam', ttlS: 60 }, { secret: 's'.repeat(40) });
    await expect(open.verify(stranger.token)).rejects.toMatchObject({ code: 'E_UNAUTHORIZED' });
  });

  it('verifies by kid against a JWKS with two keys of one algorithm (a rotation); refuses a kid it lacks', async () => {
    const [oldKey, newKey] = [await jwksFileFor('ES256', 'old'), await jwksFileFor('ES256', 'new')];
    const both = { keys: [...jwks(oldKey.file), ...jwks(newKey.file)] };
    writeFileSync(newKey.file, JSON.stringify(both));
    const verifier = TokenVerifier.create({ ...base, jwksFile: newKey.file });
    for (const [key, kid] of [
      [oldKey, 'old'],
      [newKey, 'new'],
    ] as const) {
      const { token } = await mintToken({ subject: kid, ttlS: 60 }, { privateKey: key.pem, alg: 'ES256', kid });
      expect((await verifier.verify(token)).subject).toBe(`sub:${kid}`);
    }
    const swapped = await mintToken({ subject: 'x', ttlS: 60 }, { privateKey: oldKey.pem, alg: 'ES256', kid: 'new' });
    await expect(verifier.verify(swapped.token)).rejects.toMatchObject({ code: 'E_UNAUTHORIZED' });
    const unknown = await mintToken({ subject: 'x', ttlS: 60 }, { privateKey: oldKey.pem, alg: 'ES256', kid: 'gone' });
    await expect(verifier.verify(unknown.token)).rejects.toMatchObject({ code: 'E_UNAUTHORIZED' });
    // Two keys of one algorithm and no kid: the verifier cannot choose (docs/tokens.md says tokens carry it).
    const kidless = await mintToken({ subject: 'x', ttlS: 60 }, { privateKey: newKey.pem, alg: 'ES256' });
    await expect(verifier.verify(kidless.token)).rejects.toMatchObject({ code: 'E_UNAUTHORIZED' });
  });

  it('refuses an expired token with E_TOKEN_EXPIRED, and a key that is not a private key with E_CONFIG', async () => {
    const secret = 'k'.repeat(40);
    const { token } = await mintToken({ subject: 'cam', ttlS: 1 }, { secret });
    await sleep(2100);
    await expect(TokenVerifier.create({ ...base, secret }).verify(token)).rejects.toMatchObject({
      code: 'E_TOKEN_EXPIRED',
    });
    await expect(
      mintToken({ subject: 'cam', ttlS: 60 }, { privateKey: 'not a key', alg: 'ES256' }),
    ).rejects.toMatchObject({ code: 'E_CONFIG' });
  });
});
