import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import type WebSocket from 'ws';
import { encodeFrame, PROTOCOL_V1 } from '@vision/wire';
import {
  COLORS,
  drawScene,
  modelsDir,
  signTestToken,
  startRedisSite,
  TEST_JWT_SECRET,
  TestClient,
  tryUpgrade,
  type RedisSite,
} from '@vision/testing';

/**
 * The edge's gate against running processes: two edges on one Redis (shared limits), one worker,
 * and a third edge with a tiny connection cap. Clients connect from 127.0.0.1, a trusted proxy,
 * and name their own address in X-Forwarded-For, so each test has its own per-address budget.
 */
describe('edge security: authentication, origin, shared limits, hostile connections', () => {
  let site: RedisSite;
  let urls: string[];
  let httpA: string;
  let capped: string;
  let nextIp = 0;
  const ip = () => `10.1.${Math.floor(++nextIp / 250)}.${nextIp % 250}`;
  const claims = { iss: 'vision-test', aud: 'edges' };
  const now = () => Math.floor(Date.now() / 1000);
  const square = () =>
    drawScene({
      width: 1280,
      height: 720,
      format: 'jpeg',
      rects: [{ x: 640, y: 232, w: 64, h: 64, color: COLORS.red }],
    });

  beforeAll(async () => {
    site = await startRedisSite('sec', {
      env: { LOG_LEVEL: 'info', MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') },
    });
    const edgeEnv = {
      AUTH_DISABLED: '',
      JWT_SECRET: TEST_JWT_SECRET,
      JWT_ISSUER: 'vision-test',
      JWT_AUDIENCE: 'edges',
      JWT_CLOCK_SKEW_S: '1',
      TRUSTED_PROXIES: '127.0.0.1',
      ALLOWED_ORIGINS: 'https://app.example',
      MAX_CONNECTIONS_PER_IP: '2',
      MESSAGES_PER_SECOND: '20',
      VIOLATIONS_BEFORE_CLOSE: '10',
      IDLE_TIMEOUT_MS: '2000',
      MESSAGE_TIMEOUT_MS: '1000',
    };
    await site.start('worker', { AUTH_DISABLED: '' });
    const [a, b, c] = await Promise.all([
      site.start('edge', { ...edgeEnv, EDGE_ID: 'a' }),
      site.start('edge', { ...edgeEnv, EDGE_ID: 'b' }),
      site.start('edge', { ...edgeEnv, EDGE_ID: 'c', MAX_CONNECTIONS: '2' }),
    ]);
    urls = [a, b].map((e) => `ws://127.0.0.1:${e.port}/ws/detect`);
    httpA = `http://127.0.0.1:${a.port}`;
    capped = `ws://127.0.0.1:${c.port}/ws/detect`;
  });

  afterAll(() => site.stop());

  /** Opens a yolo.v1 client with a valid token as a fresh address; resolves after the hello. */
  async function client(url = urls[0], extra: Record<string, unknown> = {}) {
    const c = new TestClient(url, PROTOCOL_V1, {
      headers: { authorization: `Bearer ${await signTestToken(claims)}`, 'x-forwarded-for': ip() },
      ...extra,
    });
    await c.waitFor(1);
    return c;
  }

  it('refuses upgrades without a valid token with 401 before any socket exists', async () => {
    const headers = { 'x-forwarded-for': ip() };
    const bearer = (t: string) => ({ headers: { ...headers, authorization: `Bearer ${t}` } });
    const cases: [string, Record<string, unknown>, string][] = [
      ['missing', { headers }, 'E_UNAUTHORIZED'],
      [
        'bad signature',
        bearer(await signTestToken(claims, 'another-secret-0123456789abcdef0123456789')),
        'E_UNAUTHORIZED',
      ],
      ['expired', bearer(await signTestToken({ ...claims, exp: now() - 60 })), 'E_TOKEN_EXPIRED'],
      ['not yet valid', bearer(await signTestToken({ ...claims, nbf: now() + 120 })), 'E_UNAUTHORIZED'],
      ['wrong audience', bearer(await signTestToken({ ...claims, aud: 'billing' })), 'E_UNAUTHORIZED'],
      ['wrong issuer', bearer(await signTestToken({ ...claims, iss: 'someone-else' })), 'E_UNAUTHORIZED'],
      ['no subject', bearer(await signTestToken({ ...claims, sub: undefined })), 'E_UNAUTHORIZED'],
      ['garbage', bearer('not.a.jwt'), 'E_UNAUTHORIZED'],
    ];
    for (const [what, opts, code] of cases) {
      const r = await tryUpgrade(urls[0], [PROTOCOL_V1], opts);
      expect(r.ok, what).toBe(false);
      if (r.ok) continue;
      expect(r.status, what).toBe(401);
      expect(r.body, what).toBe(code);
      expect(r.headers['www-authenticate'], what).toBe('Bearer');
    }
  });

  it('accepts the token from the Authorization header, a bearer sub-protocol (never echoed) or ?token=', async () => {
    const token = await signTestToken(claims);
    const headers = { 'x-forwarded-for': ip() };
    const viaHeader = await tryUpgrade(urls[0], [PROTOCOL_V1], {
      headers: { ...headers, authorization: `Bearer ${token}` },
    });
    const viaProtocol = await tryUpgrade(urls[1], [PROTOCOL_V1, `bearer.${token}`], {
      headers: { 'x-forwarded-for': ip() },
    });
    const viaQuery = await tryUpgrade(`${urls[0]}?token=${token}`, [], { headers: { 'x-forwarded-for': ip() } });
    for (const r of [viaHeader, viaProtocol, viaQuery]) expect(r.ok).toBe(true);
    if (viaProtocol.ok) expect(viaProtocol.ws.protocol).toBe(PROTOCOL_V1);
    for (const r of [viaHeader, viaProtocol, viaQuery]) if (r.ok) r.ws.close();
  });

  it('guards POST /v1/detect with the same check, and hides the framework', async () => {
    const jpeg = await square();
    const anon = await fetch(`${httpA}/v1/detect`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg', 'x-forwarded-for': ip() },
      body: jpeg,
    });
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe('Bearer');
    expect(((await anon.json()) as { error: { code: string } }).error.code).toBe('E_UNAUTHORIZED');
    const ok = await fetch(`${httpA}/v1/detect`, {
      method: 'POST',
      headers: {
        'content-type': 'image/jpeg',
        authorization: `Bearer ${await signTestToken(claims)}`,
        'x-forwarded-for': ip(),
      },
      body: jpeg,
    });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { name: string }[]).map((d) => d.name)).toEqual(['red']);
    expect(ok.headers.get('x-powered-by')).toBeNull();
    const ready = (await (await fetch(`${httpA}/readyz`)).json()) as Record<string, unknown>;
    expect(Object.keys(ready).sort()).toEqual(['checks', 'ready', 'workers']);
    expect((await fetch(`${httpA}/metrics`)).status).toBe(404);
  });

  it('allows listed Origins, refuses others with 403', async () => {
    const token = await signTestToken(claims);
    const open = (origin: string) =>
      tryUpgrade(urls[0], [PROTOCOL_V1], {
        headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': ip() },
        origin,
      });
    const bad = await open('https://evil.example');
    expect(bad).toMatchObject({ ok: false, status: 403, body: 'E_FORBIDDEN' });
    const good = await open('https://app.example');
    expect(good.ok).toBe(true);
    if (good.ok) good.ws.close();
  });

  it('limits connections per address across both edges, ignoring X-Forwarded-For from an untrusted peer', async () => {
    const token = await signTestToken(claims);
    const from = (addr: string, url: string, localAddress?: string) =>
      tryUpgrade(url, [PROTOCOL_V1], {
        headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': addr },
        ...(localAddress ? { localAddress } : {}),
      });
    const me = ip();
    const first = await from(me, urls[0]);
    const second = await from(me, urls[1]);
    expect([first.ok, second.ok]).toEqual([true, true]);
    expect(await from(me, urls[0])).toMatchObject({ ok: false, status: 429, body: 'E_TOO_MANY_CONNECTIONS' });
    if (first.ok) {
      const closed = new Promise((r) => first.ws.once('close', r));
      first.ws.close();
      await closed;
    }
    // The slot comes back once the socket closes (on whichever edge held it).
    await expect
      .poll(async () => {
        const again = await from(me, urls[1]);
        if (again.ok) again.ws.close();
        return again.ok;
      })
      .toBe(true);
    if (second.ok) second.ws.close();

    // 127.0.0.2 is not a trusted proxy: its X-Forwarded-For is ignored, all three are one address.
    const spoofed = [
      await from(ip(), urls[0], '127.0.0.2'),
      await from(ip(), urls[1], '127.0.0.2'),
      await from(ip(), urls[0], '127.0.0.2'),
    ];
    expect(spoofed.map((r) => r.ok)).toEqual([true, true, false]);
    expect(spoofed[2]).toMatchObject({ status: 429 });
    for (const r of spoofed) if (r.ok) r.ws.close();
  });

  it('answers a message flood E_RATE_LIMITED (retryAfterMs), then closes 1008; a neighbour is unaffected', async () => {
    const neighbour = await client(urls[0]);
    const flooder = await client(urls[0]);
    for (let i = 0; i < 200; i++) flooder.send(JSON.stringify({ type: 'ping', ts: i }));
    expect(await flooder.closed).toBe(1008);
    const limited = flooder.ofType('error').filter((m) => (m['error'] as { code: string }).code === 'E_RATE_LIMITED');
    expect(limited.length).toBeGreaterThan(0);
    expect((limited[0]['error'] as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    expect(flooder.ofType('error').at(-1)).toMatchObject({ error: { code: 'E_POLICY_VIOLATION' } });
    expect(flooder.ofType('pong').length).toBeLessThanOrEqual(21);
    neighbour.send(encodeFrame({ frameId: 1 }, await square()));
    await expect.poll(() => neighbour.ofType('result').length).toBe(1);
    neighbour.close();
  });

  it('refuses an oversize text message without parsing it', async () => {
    const c = await client();
    // Valid JSON that would be answered with a pong if it were parsed.
    c.send(JSON.stringify({ type: 'ping', ts: 1, pad: 'x'.repeat(5000) }));
    await c.waitFor(2);
    expect(c.messages[1]).toMatchObject({ type: 'error', error: { code: 'E_MESSAGE_TOO_LARGE' } });
    expect(c.ofType('pong')).toEqual([]);
    c.close();
  });

  it('closes a session whose token expires (4401) unless the client refreshed it', async () => {
    const soon = { ...claims, exp: now() + 2 };
    const expiring = new TestClient(urls[0], PROTOCOL_V1, {
      headers: { authorization: `Bearer ${await signTestToken(soon)}`, 'x-forwarded-for': ip() },
    });
    const refreshing = new TestClient(urls[1], PROTOCOL_V1, {
      headers: { authorization: `Bearer ${await signTestToken(soon)}`, 'x-forwarded-for': ip() },
    });
    const [hello] = (await refreshing.waitFor(1)) as { tokenExpiresAt: number }[];
    expect(hello.tokenExpiresAt).toBe(soon.exp * 1000);
    refreshing.send(JSON.stringify({ type: 'auth', token: await signTestToken(claims) }));
    await expect.poll(() => refreshing.ofType('auth').length).toBe(1);
    // Another subject may not take over the connection.
    refreshing.send(JSON.stringify({ type: 'auth', token: await signTestToken({ ...claims, sub: 'intruder' }) }));
    await expect.poll(() => refreshing.ofType('error').length).toBe(1);
    expect(refreshing.ofType('error')[0]).toMatchObject({ error: { code: 'E_FORBIDDEN' } });
    // Both send pings, so neither can be closed as idle (IDLE_TIMEOUT_MS is 2 s here): only the token decides.
    await expiring.waitFor(1);
    const keepAlive = setInterval(
      () =>
        [refreshing, expiring].forEach(
          (c) => c.ws.readyState === c.ws.OPEN && c.send(JSON.stringify({ type: 'ping' })),
        ),
      500,
    );
    try {
      expect(await expiring.closed).toBe(4401);
      expect(expiring.ofType('error').at(-1)).toMatchObject({ error: { code: 'E_TOKEN_EXPIRED' } });
      refreshing.send(encodeFrame({ frameId: 5 }, await square()));
      await expect.poll(() => refreshing.ofType('result').length).toBe(1);
      expect(refreshing.ws.readyState).toBe(refreshing.ws.OPEN);
    } finally {
      clearInterval(keepAlive);
      refreshing.close();
    }
  });

  it('lets a token with a streams claim send only those streams', async () => {
    const token = await signTestToken({ ...claims, streams: ['gate-*', 'dock-1'] });
    const c = new TestClient(urls[0], PROTOCOL_V1, {
      headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': ip() },
    });
    await c.waitFor(1);
    const jpeg = await square();
    c.send(encodeFrame({ frameId: 1, streamId: 'gate-7' }, jpeg));
    c.send(encodeFrame({ frameId: 2, streamId: 'yard-1' }, jpeg));
    c.send(jpeg); // headerless: no stream id
    await expect.poll(() => c.ofType('result').length + c.ofType('error').length).toBe(3);
    expect(c.ofType('result').map((m) => m['frameId'])).toEqual([1]);
    expect(c.ofType('error').map((m) => (m['error'] as { code: string }).code)).toEqual(['E_FORBIDDEN', 'E_FORBIDDEN']);
    c.close();
  });

  it('refuses upgrades with 503 at the per-edge connection cap while existing sockets keep working', async () => {
    const a = await client(capped);
    const b = await client(capped);
    const token = await signTestToken(claims);
    expect(
      await tryUpgrade(capped, [PROTOCOL_V1], {
        headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': ip() },
      }),
    ).toMatchObject({
      ok: false,
      status: 503,
      body: 'E_EDGE_FULL',
    });
    a.send(encodeFrame({ frameId: 3 }, await square()));
    await expect.poll(() => a.ofType('result').length).toBe(1);
    expect((await fetch(capped.replace('ws://', 'http://').replace('/ws/detect', '/healthz'))).status).toBe(200);
    a.close();
    b.close();
  });

  it('refuses costly image variants with E_IMAGE_TOO_COSTLY before decoding them', async () => {
    const c = await client();
    // 2500×2000 progressive JPEG: above the 4 MP cap for progressive/interlaced images.
    const progressive = await sharp({
      create: { width: 2500, height: 2000, channels: 3, background: { r: 90, g: 90, b: 90 } },
    })
      .jpeg({ progressive: true })
      .toBuffer();
    const interlaced16 = await sharp({
      create: { width: 2100, height: 2000, channels: 3, background: { r: 9, g: 9, b: 9 } },
    })
      .toColourspace('rgb16')
      .png({ progressive: true, compressionLevel: 1 })
      .toBuffer();
    c.send(encodeFrame({ frameId: 1 }, progressive));
    c.send(encodeFrame({ frameId: 2 }, interlaced16));
    await expect.poll(() => c.ofType('error').length, { timeout: 10_000 }).toBe(2);
    expect(c.ofType('error').map((m) => (m['error'] as { code: string }).code)).toEqual([
      'E_IMAGE_TOO_COSTLY',
      'E_IMAGE_TOO_COSTLY',
    ]);
    c.close();
  });
});

describe('edge dependencies and TLS', () => {
  it('serves sockets with ws >= 8.21 (the copy @nestjs/platform-ws loads) and decodes with sharp >= 0.35', () => {
    const platformWs = require.resolve('@nestjs/platform-ws');
    const wsPkg = require.resolve('ws/package.json', { paths: [dirname(platformWs)] });
    const [major, minor] = (JSON.parse(readFileSync(wsPkg, 'utf8')) as { version: string }).version
      .split('.')
      .map(Number);
    expect(major > 8 || (major === 8 && minor >= 21)).toBe(true);
    const [smaj, smin] = sharp.versions.sharp!.split('.').map(Number);
    expect(smaj > 0 || smin >= 35).toBe(true);
  });

  it('serves wss:// and https:// from TLS_CERT_FILE / TLS_KEY_FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-'));
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
      ],
      { stdio: 'ignore' },
    );
    const tlsSite = await startRedisSite('tls');
    const edge = await tlsSite.start('edge', { TLS_CERT_FILE: cert, TLS_KEY_FILE: key });
    try {
      const c = new TestClient(`wss://127.0.0.1:${edge.port}/ws/detect`, PROTOCOL_V1, { rejectUnauthorized: false });
      const [hello] = (await c.waitFor(1)) as { type: string }[];
      expect(hello.type).toBe('hello');
      c.close();
      const plain = await tryUpgrade(`ws://127.0.0.1:${edge.port}/ws/detect`).catch((err: Error) => err);
      expect(plain).toBeInstanceOf(Error);
    } finally {
      await tlsSite.stop();
    }
  });
});

export type { WebSocket };
