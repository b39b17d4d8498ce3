import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exportJWK, importSPKI } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRevocations, TokenVerifier } from '@vision/auth';
import { loadConfig } from '@vision/config';
import { repoRoot, startPersistentRedis, TEST_JWT_SECRET, uniquePrefix, type PersistentRedis } from '@vision/testing';

const run = promisify(execFile);
const CLI = join(repoRoot(), 'apps', 'tools', 'dist', 'token.js');
const token = (args: string[], env: Record<string, string>) =>
  run(process.execPath, [CLI, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env } });

/**
 * `npm run token`, as an operator runs it: a token the edges' verifier accepts with every claim, and
 * revocation through Redis.
 */
describe('npm run token', () => {
  // Its own data directory: --revoke takes a snapshot before it answers.
  let redis: PersistentRedis;
  const prefix = uniquePrefix('token');
  beforeAll(async () => {
    redis = await startPersistentRedis(['--appendonly', 'no', '--save', '']);
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('signs with JWT_SECRET, the site issuer and audience; edges accept its claims; --revoke works', async () => {
    const site = {
      JWT_SECRET: TEST_JWT_SECRET,
      JWT_ISSUER: 'site-a',
      JWT_AUDIENCE: 'edges',
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
    };
    const { stdout, stderr } = await token(
      ['--sub', 'gate-3', '--streams', 'gate-*', '--models', 'general', '--scope', 'cameras:read', '--ttl', '30d'],
      site,
    );
    const verifier = TokenVerifier.create(loadConfig(site).auth);
    const p = await verifier.verify(stdout.trim());
    expect(p).toMatchObject({
      subject: 'sub:gate-3',
      streams: ['gate-*'],
      models: ['general'],
      scopes: ['cameras:read'],
    });
    expect(p.expiresAt! - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const jti = /jti (\S+),/.exec(stderr)?.[1];
    expect(jti).toBe(p.tokenId);
    await token(['--revoke', jti!], site);
    const list = new RedisRevocations({ target: redis.url, prefix });
    expect(await list.isRevoked(jti!)).toBe(true);
    await list.close();
  });

  it('signs ES256 with --key for a JWKS site, and refuses to sign without a key or a subject', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const dir = mkdtempSync(join(tmpdir(), 'token-'));
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const jwksFile = join(dir, 'jwks.json');
    const pub = await importSPKI(pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'ES256');
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(pub)), kid: 'k1', alg: 'ES256' }] }));
    const { stdout } = await token(['--sub', 'app', '--key', keyFile, '--alg', 'ES256', '--kid', 'k1'], {});
    expect((await TokenVerifier.create(loadConfig({ JWKS_FILE: jwksFile }).auth).verify(stdout.trim())).subject).toBe(
      'sub:app',
    );
    await expect(token(['--sub', 'app'], {})).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('JWT_SECRET'),
    });
    await expect(token([], { JWT_SECRET: TEST_JWT_SECRET })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--sub'),
    });
  });
});
