import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, importSPKI } from 'jose';
import { afterAll, beforeAll, describe, it } from 'vitest';
import WebSocket from 'ws';
import { mintToken, RedisRevocations } from '@vision/auth';
import { VisionClient } from '@vision/client';
import { encodeFrame, PROTOCOL_V1 } from '@vision/wire';
import {
  COLORS,
  drawScene,
  modelsDir,
  repoRoot,
  signTestToken,
  startRedisSite,
  TEST_JWT_SECRET,
  TestClient,
  tryUpgrade,
  type RedisSite,
  sleep,
} from '@vision/testing';

/** An RS256 or ES256 key pair: the private key as PEM, the public one in a JWKS file. */
async function keyPair(alg: 'RS256' | 'ES256'): Promise<{ pem: string; jwks: Record<string, unknown>[] }> {
  const pair =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub = await importSPKI(pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), alg);
  return {
    pem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    jwks: [{ ...(await exportJWK(pub)), kid: alg, alg, use: 'sig' }],
  };
}

/**
 * Authentication as a site runs it, against real edge processes: an edge never starts open by
 * accident; JWKS keys (RS256 and ES256) are accepted and nothing else is; connection slots held by
 * an edge that crashed come back; the SDK refreshes its token on a live socket; a refused refresh
 * changes nothing, and the socket lives as long as its old token.
 */
describe.concurrent('edge authentication in production settings', () => {
  let site: RedisSite;
  const dir = mkdtempSync(join(tmpdir(), 'edge-auth-'));
  const keys: Partial<Record<'RS256' | 'ES256', string>> = {};
  let jwksEdge: string;
  const square = () =>
    drawScene({
      width: 640,
      height: 480,
      format: 'jpeg',
      rects: [{ x: 320, y: 224, w: 32, h: 32, color: COLORS.green }],
    });

  beforeAll(async () => {
    site = await startRedisSite('auth', { env: { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') } });
    const rs = await keyPair('RS256');
    const es = await keyPair('ES256');
    keys.RS256 = rs.pem;
    keys.ES256 = es.pem;
    const jwksFile = join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [...rs.jwks, ...es.jwks] }));
    await site.start('worker');
    const edge = await site.start('edge', { AUTH_DISABLED: '', JWKS_FILE: jwksFile });
    jwksEdge = `ws://127.0.0.1:${edge.port}/ws/detect`;
  });

  afterAll(() => site.stop());

  it('fails closed: an edge without key source or AUTH_DISABLED=true refuses to start, naming them', async ({
    expect,
  }) => {
    const started = site.start('edge', { AUTH_DISABLED: '' }, 15_000);
    await expect(started).rejects.toThrow(/JWT_SECRET, JWKS_FILE or JWKS_URL/);
  });

  it('accepts RS256 and ES256 tokens from the JWKS file, and refuses an HS256 token or an unknown key', async ({
    expect,
  }) => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const { token } = await mintToken({ subject: `cam-${alg}`, ttlS: 60 }, { privateKey: keys[alg]!, alg, kid: alg });
      const r = await tryUpgrade(jwksEdge, [PROTOCOL_V1], { headers: { authorization: `Bearer ${token}` } });
      expect(r.ok, alg).toBe(true);
      if (r.ok) r.ws.close();
    }
    const hs = await mintToken({ subject: 'cam', ttlS: 60 }, { secret: TEST_JWT_SECRET });
    expect(
      await tryUpgrade(jwksEdge, [PROTOCOL_V1], { headers: { authorization: `Bearer ${hs.token}` } }),
    ).toMatchObject({ ok: false, status: 401, body: 'E_UNAUTHORIZED' });
    const stranger = await keyPair('ES256');
    const forged = await mintToken(
      { subject: 'cam', ttlS: 60 },
      { privateKey: stranger.pem, alg: 'ES256', kid: 'ES256' },
    );
    expect(
      await tryUpgrade(jwksEdge, [PROTOCOL_V1], { headers: { authorization: `Bearer ${forged.token}` } }),
    ).toMatchObject({ ok: false, status: 401 });
  });

  it(
    'gives back the connection slots of an edge that crashed (their leases lapse)',
    { timeout: 60_000 },
    async ({ expect }) => {
      const env = { AUTH_DISABLED: 'true', TRUSTED_PROXIES: '127.0.0.1', MAX_CONNECTIONS_PER_IP: '2' };
      const [doomed, other] = await Promise.all([site.start('edge', env), site.start('edge', env)]);
      const from = { headers: { 'x-forwarded-for': '10.9.9.9' } };
      const held = await Promise.all([0, 1].map(() => tryUpgrade(`ws://127.0.0.1:${doomed.port}/ws/detect`, [], from)));
      expect(held.map((r) => r.ok)).toEqual([true, true]);
      const otherUrl = `ws://127.0.0.1:${other.port}/ws/detect`;
      expect(await tryUpgrade(otherUrl, [], from)).toMatchObject({ ok: false, status: 429 });
      await doomed.kill('SIGKILL');
      const t0 = Date.now();
      await expect
        .poll(
          async () => {
            const r = await tryUpgrade(otherUrl, [], from);
            if (r.ok) r.ws.close();
            return r.ok;
          },
          { timeout: 45_000, interval: 1000 },
        )
        .toBe(true);
      console.log('slots back after', Date.now() - t0, 'ms');
    },
  );

  it(
    'answers a refused auth refresh with its error and keeps the socket on its old token until that expires (4401)',
    { timeout: 30_000 },
    async ({ expect }) => {
      // No clock-skew allowance: the old token's expiry is exactly when the socket must close.
      const edge = await site.start('edge', { AUTH_DISABLED: '', JWT_SECRET: TEST_JWT_SECRET, JWT_CLOCK_SKEW_S: '0' });
      const hs = { secret: TEST_JWT_SECRET };
      const mint = (claims: Partial<Parameters<typeof mintToken>[0]>) =>
        mintToken({ subject: 'refused', ttlS: 600, ...claims }, hs);
      const revoked = await mint({});
      const revocations = new RedisRevocations({ target: site.redis.url, prefix: site.prefix });
      await revocations.revoke(revoked.tokenId, revoked.expiresAt);
      await revocations.close();
      const now = Math.floor(Date.now() / 1000);
      const refusals: [string, string][] = [
        ['not a JWT', 'E_UNAUTHORIZED'],
        [
          (await mintToken({ subject: 'refused', ttlS: 600 }, { secret: 'another-secret-0123456789abcdefghijklmn' }))
            .token,
          'E_UNAUTHORIZED',
        ],
        [await signTestToken({ sub: 'refused', exp: now - 5 }), 'E_TOKEN_EXPIRED'],
        [revoked.token, 'E_TOKEN_REVOKED'],
        [(await mint({ subject: 'intruder' })).token, 'E_FORBIDDEN'],
        [(await mint({ scopes: ['gateway'] })).token, 'E_FORBIDDEN'],
      ];
      const first = await mint({ ttlS: 8 });
      const c = new TestClient(`ws://127.0.0.1:${edge.port}/ws/detect`, PROTOCOL_V1, {
        headers: { authorization: `Bearer ${first.token}` },
      });
      const [hello] = (await c.waitFor(1)) as { tokenExpiresAt: number }[];
      expect(hello.tokenExpiresAt).toBe(first.expiresAt);
      const image = await square();
      for (const [i, [token, code]] of refusals.entries()) {
        c.send(JSON.stringify({ type: 'auth', token }));
        await expect.poll(() => c.ofType('error').length).toBe(i + 1);
        expect(c.ofType('error')[i], code).toMatchObject({ error: { code } });
        // Still open, still answering frames on the old token.
        c.send(encodeFrame({ frameId: i + 1 }, image));
        await expect.poll(() => c.ofType('result').length).toBe(i + 1);
      }
      expect(c.ofType('auth')).toEqual([]);
      const closedWith = await c.closed;
      expect(closedWith).toBe(4401);
      expect(c.ofType('error').at(-1)).toMatchObject({ error: { code: 'E_TOKEN_EXPIRED' } });
      expect(Date.now()).toBeGreaterThanOrEqual(first.expiresAt - 50);

      // docs/protocol.md names every error a refresh was answered with here.
      const protocol = readFileSync(join(repoRoot(), 'docs', 'protocol.md'), 'utf8');
      const authRow = protocol.split('\n').find((l) => l.startsWith('| `{"type":"auth"'))!;
      for (const [, code] of refusals) expect(authRow, code).toContain(`\`${code}\``);
    },
  );

  it(
    'the SDK asks a token provider with no newer token again after a pause, not in a loop the edge would close',
    { timeout: 30_000 },
    async ({ expect }) => {
      // A provider that keeps handing out the same token (a token file not yet rotated): every
      // refresh is accepted with the same expiry, already inside the refresh window.
      const { token } = await mintToken(
        { subject: 'same-token', ttlS: 14 },
        { privateKey: keys.ES256!, alg: 'ES256', kid: 'ES256' },
      );
      let refreshes = 0;
      const client = new VisionClient({
        url: jwksEdge,
        token: async () => token,
        refreshBeforeMs: 11_000,
        webSocket: (url, protocols, headers) => {
          const ws = new WebSocket(url, protocols, { headers });
          const send = ws.send.bind(ws);
          ws.send = ((data: string) => {
            if (typeof data === 'string' && data.includes('"auth"')) refreshes++;
            send(data);
          }) as typeof ws.send;
          return ws as never;
        },
      });
      const drops: string[] = [];
      client.on('state', (s) => s.state === 'reconnecting' && drops.push(s.state));
      const image = await square();
      let results = 0;
      const until = Date.now() + 9000;
      while (Date.now() < until) {
        if ((await client.send(image, { streamId: 's' })).status === 'result') results++;
        await sleep(300);
      }
      client.close();
      // Inside the window for about 6 s: the first try at once, then one every 5 s.
      expect(refreshes).toBeGreaterThanOrEqual(1);
      expect(refreshes).toBeLessThanOrEqual(3);
      expect(drops).toEqual([]);
      expect(results).toBeGreaterThan(15);
    },
  );

  it(
    'the SDK refreshes its token on the open socket before it expires, and keeps getting boxes',
    { timeout: 30_000 },
    async ({ expect }) => {
      let minted = 0;
      const client = new VisionClient({
        url: jwksEdge,
        token: async () => (
          minted++,
          (await mintToken({ subject: 'refresher', ttlS: 4 }, { privateKey: keys.ES256!, alg: 'ES256', kid: 'ES256' }))
            .token
        ),
        refreshBeforeMs: 2500,
        webSocket: (url, protocols, headers) => new WebSocket(url, protocols, { headers }) as never,
      });
      const closes: number[] = [];
      client.on('state', (s) => s.state === 'reconnecting' && closes.push(Date.now()));
      const image = await square();
      const until = Date.now() + 9000;
      let results = 0;
      while (Date.now() < until) {
        const o = await client.send(image, { streamId: 'r' });
        if (o.status === 'result') results++;
        await sleep(300);
      }
      client.close();
      // Three token lifetimes on one socket: refreshed (more than one token minted), never dropped.
      expect(minted).toBeGreaterThanOrEqual(3);
      expect(closes).toEqual([]);
      expect(results).toBeGreaterThan(15);
    },
  );
});
