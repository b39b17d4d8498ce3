import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, importSPKI } from 'jose';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { mintToken, type SigningKey } from '@vision/auth';
import { redisKeys } from '@vision/transport';
import { PROTOCOL_V1 } from '@vision/wire';
import {
  cleanupPrefix,
  modelsDir,
  movingSquareJpegs,
  startMjpegServer,
  startService,
  startTestRedis,
  TEST_JWT_SECRET,
  tryUpgrade,
  uniquePrefix,
  type ServiceProcess,
  type TestMjpegServer,
  type TestRedis,
  sleep,
} from '@vision/testing';
import { gatewayApi, waitFor } from './gateway-harness';

/** More cameras than the edge's default MAX_CONNECTIONS_PER_IP (32), all from one gateway. */
const CAMERAS = 40;
/** The edge default the gateway's cameras must not be held to. */
const DEFAULT_MAX_CONNECTIONS_PER_IP = 32;
/** The shortest GATEWAY_TOKEN_TTL_S: the camera connections must outlive their first token. */
const TOKEN_TTL_S = 60;

/** An ES256 key pair: the private key as PEM, the public one in a JWKS. */
async function es256(): Promise<{ key: SigningKey; jwks: { keys: Record<string, unknown>[] } }> {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub = await importSPKI(pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'ES256');
  return {
    key: { privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), alg: 'ES256', kid: 'k1' },
    jwks: { keys: [{ ...(await exportJWK(pub)), kid: 'k1', alg: 'ES256', use: 'sig' }] },
  };
}

/** A counter of an edge's /metrics, 0 when the series does not exist yet. */
async function edgeCounter(edge: ServiceProcess, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${edge.metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/**
 * A camera gateway against edges with authentication on, as a site runs them: one gateway streams
 * more cameras than an address may open connections at the edges' default limits (its tokens carry
 * the `gateway` scope), while a client of the same address without the scope stays capped; the
 * gateway refreshes its cameras' tokens on the open connections; a JWKS site's gateway reads its
 * token from GATEWAY_TOKEN_FILE at connect.
 */
describe.concurrent('gateway: tokens and connection limits at real edges', () => {
  let redis: TestRedis;
  const prefix = uniquePrefix('gwauth');
  const procs: ServiceProcess[] = [];
  let dir: string;
  let mjpeg: TestMjpegServer;
  let hsEdge: ServiceProcess;
  let jwksEdge: ServiceProcess;
  let gateway: ServiceProcess;
  let reader: ServiceProcess;
  let gatewayStartedAt: number;
  let site: Awaited<ReturnType<typeof es256>>;
  const tokenFile = () => join(dir, 'edge-token');
  const hsOperator = () =>
    mintToken({ subject: 'ops', scopes: ['cameras:read'], ttlS: 600 }, { secret: TEST_JWT_SECRET });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-auth-'));
    site = await es256();
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(site.jwks));
    writeFileSync(tokenFile(), 'not-a-token\n');
    const jpegs = await movingSquareJpegs({ width: 160, height: 96, size: 24, fps: 2, y: 36, speed: 68 }, 70);
    [redis, mjpeg] = await Promise.all([startTestRedis(), startMjpegServer({ frames: jpegs, fps: 2 })]);
    const common = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') };
    procs.push(await startService('worker', common));
    // The edges' limits are their defaults; the clock-skew allowance is 0 so an unrefreshed token
    // would close its connection right at its expiry.
    [hsEdge, jwksEdge] = await Promise.all([
      startService('edge', { ...common, AUTH_DISABLED: '', JWT_SECRET: TEST_JWT_SECRET, JWT_CLOCK_SKEW_S: '0' }),
      startService('edge', { ...common, AUTH_DISABLED: '', JWKS_FILE: join(dir, 'jwks.json'), JWT_CLOCK_SKEW_S: '0' }),
    ]);
    procs.push(hsEdge, jwksEdge);
    const camera = (id: string) => ({ id, url: mjpeg.url('/stream.mjpg'), fps: 1 });
    writeFileSync(
      join(dir, 'minted.json'),
      JSON.stringify({ cameras: Array.from({ length: CAMERAS }, (_, i) => camera(`cam-${i}`)) }),
    );
    writeFileSync(join(dir, 'file.json'), JSON.stringify({ cameras: [camera('dock-1'), camera('dock-2')] }));
    const gatewayEnv = { AUTH_DISABLED: '', CAMERA_BACKOFF_INITIAL_MS: '200', CAMERA_BACKOFF_MAX_MS: '1000' };
    gatewayStartedAt = Date.now();
    const [minting, reading] = await Promise.all([
      startService('gateway', {
        ...gatewayEnv,
        GATEWAY_EDGE_URLS: `ws://127.0.0.1:${hsEdge.port}/ws/detect`,
        JWT_SECRET: TEST_JWT_SECRET,
        GATEWAY_TOKEN_TTL_S: String(TOKEN_TTL_S),
        GATEWAY_MAX_CAMERAS: String(CAMERAS),
        CAMERAS_FILE: join(dir, 'minted.json'),
      }),
      startService('gateway', {
        ...gatewayEnv,
        GATEWAY_EDGE_URLS: `ws://127.0.0.1:${jwksEdge.port}/ws/detect`,
        JWKS_FILE: join(dir, 'jwks.json'),
        GATEWAY_TOKEN_FILE: tokenFile(),
        CAMERAS_FILE: join(dir, 'file.json'),
      }),
    ]);
    gateway = minting;
    reader = reading;
    procs.push(minting, reading);
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await mjpeg?.stop();
    await cleanupPrefix(redis.url, prefix);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'streams every camera of one gateway beyond MAX_CONNECTIONS_PER_IP at default edge settings, ' +
      'while one address without the gateway scope stays capped',
    { timeout: 60_000 },
    async ({ expect }) => {
      expect(CAMERAS).toBeGreaterThan(DEFAULT_MAX_CONNECTIONS_PER_IP);
      const api = gatewayApi(gateway, (await hsOperator()).token);
      const results = async () => new Map((await api.cameras()).map((c) => [c.id, c.stats.results]));
      const first = await waitFor(
        `all ${CAMERAS} cameras answered`,
        async () => {
          const r = await results();
          return r.size === CAMERAS && [...r.values()].every((n) => n >= 1) ? r : undefined;
        },
        40_000,
        500,
      );
      // Each camera is a tenant of its own at admission, as if it had its own token.
      const db = new Redis(redis.url);
      try {
        // (A rate key lives two seconds past its tenant's last frame: polled, not read once.)
        await expect.poll(() => db.exists(redisKeys(prefix).tenantRate('sub:gateway-0#cam-7'))).toBe(1);
        expect(await db.exists(redisKeys(prefix).tenantRate('sub:gateway-0'))).toBe(0);
      } finally {
        db.disconnect();
      }

      // The same address, with a token that lacks the gateway scope: held to the address's slots,
      // all of which it still has (the gateway's connections took none).
      const url = `ws://127.0.0.1:${hsEdge.port}/ws/detect`;
      const plain = await mintToken({ subject: 'viewer', ttlS: 600 }, { secret: TEST_JWT_SECRET });
      const headers = { authorization: `Bearer ${plain.token}` };
      const flood = [];
      for (let i = 0; i <= DEFAULT_MAX_CONNECTIONS_PER_IP; i++)
        flood.push(await tryUpgrade(url, [PROTOCOL_V1], { headers }));
      try {
        expect(flood.filter((r) => r.ok).length).toBe(DEFAULT_MAX_CONNECTIONS_PER_IP);
        expect(flood.at(-1)).toMatchObject({ ok: false, status: 429, body: 'E_TOO_MANY_CONNECTIONS' });
        // Without a token there is no connection at all.
        expect(await tryUpgrade(url, [PROTOCOL_V1])).toMatchObject({ ok: false, status: 401 });
        // The cameras stream on through it all.
        await waitFor(
          'every camera answered again during the flood',
          async () => {
            const r = await results();
            return [...r].every(([id, n]) => n > first.get(id)!) ? true : undefined;
          },
          20_000,
          500,
        );
      } finally {
        for (const r of flood) if (r.ok) r.ws.close();
      }
    },
  );

  it(
    "refreshes its cameras' tokens on the open connections: none is closed when its first token expires",
    { timeout: 120_000 },
    async ({ expect }) => {
      const api = gatewayApi(gateway, (await hsOperator()).token);
      // Every first token has expired (no clock skew allowed) by then.
      await sleep(Math.max(0, gatewayStartedAt + TOKEN_TTL_S * 1000 + 3000 - Date.now()));
      const before = new Map((await api.cameras()).map((c) => [c.id, c.stats.results]));
      expect(await edgeCounter(hsEdge, 'vision_edge_rejections_total{code="E_TOKEN_EXPIRED"}')).toBe(0);
      await waitFor(
        'every camera answered after its first token expired',
        async () => {
          const cams = await api.cameras();
          return cams.every((c) => c.stats.results > (before.get(c.id) ?? 0)) ? true : undefined;
        },
        20_000,
        500,
      );
      expect(await edgeCounter(hsEdge, 'vision_edge_rejections_total{code="E_TOKEN_EXPIRED"}')).toBe(0);
      expect((await api.cameras()).every((c) => c.edge.state === 'open')).toBe(true);
    },
  );

  it('reads its edge token from GATEWAY_TOKEN_FILE at connect: refused while bad, streaming once good', async ({
    expect,
  }) => {
    const operator = await mintToken({ subject: 'ops', scopes: ['cameras:read'], ttlS: 600 }, site.key);
    const api = gatewayApi(reader, operator.token);
    await sleep(3000);
    for (const c of await api.cameras()) {
      expect(c.stats.results, c.id).toBe(0);
      expect(c.edge.state, c.id).not.toBe('open');
    }
    const refusedBefore = await edgeCounter(jwksEdge, 'vision_edge_rejections_total{code="E_UNAUTHORIZED"}');
    expect(refusedBefore).toBeGreaterThan(0);
    const edgeToken = await mintToken(
      { subject: 'gateway-jwks', streams: ['dock-*'], scopes: ['gateway'], ttlS: 3600 },
      site.key,
    );
    writeFileSync(tokenFile(), `${edgeToken.token}\n`);
    await waitFor(
      'both cameras streaming with the file token',
      async () => {
        const cams = await api.cameras();
        return cams.every((c) => c.stats.results >= 2 && c.edge.state === 'open') ? true : undefined;
      },
      20_000,
      250,
    );
  });
});
