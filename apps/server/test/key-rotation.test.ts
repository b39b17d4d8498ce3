import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, importSPKI } from 'jose';
import { afterAll, beforeAll, describe, it } from 'vitest';
import WebSocket from 'ws';
import { mintToken } from '@vision/auth';
import { VisionClient } from '@vision/client';
import { PROTOCOL_V1 } from '@vision/wire';
import {
  COLORS,
  drawScene,
  modelsDir,
  startRedisSite,
  TEST_JWT_SECRET,
  tryUpgrade,
  type RedisSite,
  sleep,
} from '@vision/testing';

const OLD_SECRET = TEST_JWT_SECRET;
const NEW_SECRET = 'rotated-secret-0123456789abcdef0123456789';
/** The rotated edge's window: long enough for it to start and the clients to settle on it. */
const WINDOW_MS = 30_000;

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const nodeSocket = (url: string, protocols: string[], headers: Record<string, string> | undefined) =>
  new WebSocket(url, protocols, { headers }) as never;

/** A camera: sends a frame every 300 ms and records when results came and when its socket dropped. */
function camera(client: VisionClient, image: Buffer, streamId: string) {
  const state = { results: [] as number[], drops: [] as number[], stopped: false };
  client.on('state', (s) => s.state === 'reconnecting' && state.drops.push(Date.now()));
  void (async () => {
    while (!state.stopped) {
      const o = await client.send(image, { streamId });
      if (o.status === 'result') state.results.push(Date.now());
      await sleep(300);
    }
  })();
  // A frame the client holds while it cannot connect stays unanswered after close(): not awaited.
  return Object.assign(state, { stop: () => ((state.stopped = true), client.close()) });
}

/**
 * Key rotation against real edge processes and real sockets (docs/tokens.md, "Rotating keys"):
 * HS256 with JWT_SECRET_PREVIOUS and its timed window through a rolling restart, and a JWKS file
 * that gains the new key and later loses the old one.
 */
describe.concurrent('key rotation without downtime', () => {
  let site: RedisSite;
  let image: Buffer;

  beforeAll(async () => {
    site = await startRedisSite('rotate', { env: { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') } });
    await site.start('worker');
    image = await drawScene({
      width: 640,
      height: 480,
      format: 'jpeg',
      rects: [{ x: 320, y: 224, w: 32, h: 32, color: COLORS.green }],
    });
  });

  afterAll(() => site.stop());

  it(
    'HS256: cameras stream through the rolling restart on old tokens, ' +
      'which count until the window ends, then 4401 and 401',
    { timeout: 120_000 },
    async ({ expect }) => {
      const before = await site.start('edge', { AUTH_DISABLED: '', JWT_SECRET: OLD_SECRET });
      const oldToken = (await mintToken({ subject: 'static', ttlS: 3600 }, { secret: OLD_SECRET })).token;
      const newToken = (await mintToken({ subject: 'fresh', ttlS: 3600 }, { secret: NEW_SECRET })).token;
      const until = Date.now() + WINDOW_MS;
      const rotated = await site.start('edge', {
        AUTH_DISABLED: '',
        JWT_SECRET: NEW_SECRET,
        JWT_SECRET_PREVIOUS: OLD_SECRET,
        JWT_SECRET_PREVIOUS_UNTIL: new Date(until).toISOString(),
        JWT_CLOCK_SKEW_S: '2',
      });
      const urls = [before, rotated].map((e) => `ws://127.0.0.1:${e.port}/ws/detect`);
      // A camera with a fixed old-key token, and one whose token source moves to the new key after its
      // second token: both start on the edge that knows only the old key.
      const fixed = camera(new VisionClient({ url: urls, token: oldToken, webSocket: nodeSocket }), image, 'fixed');
      let minted = 0;
      const refreshing = camera(
        new VisionClient({
          url: urls,
          token: async () =>
            (await mintToken({ subject: 'gateway-0', ttlS: 3600 }, { secret: minted++ < 2 ? OLD_SECRET : NEW_SECRET }))
              .token,
          refreshBeforeMs: 3000,
          webSocket: nodeSocket,
        }),
        image,
        'refreshing',
      );
      await expect.poll(() => fixed.results.length + refreshing.results.length, { timeout: 15_000 }).toBeGreaterThan(4);

      // The rolling restart: the old edge drains, both cameras move to the rotated one on the tokens they hold.
      await before.kill('SIGTERM');
      await expect.poll(() => minted, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
      const movedAt = Date.now();
      await expect.poll(() => fixed.results.filter((t) => t > movedAt).length, { timeout: 10_000 }).toBeGreaterThan(2);
      const oldSocket = await tryUpgrade(urls[1], [PROTOCOL_V1], bearer(oldToken));
      expect(oldSocket.ok).toBe(true);
      if (!oldSocket.ok) return;
      const closed = new Promise<{ code: number; at: number }>((resolve) =>
        oldSocket.ws.once('close', (code) => resolve({ code, at: Date.now() })),
      );
      const newSocket = await tryUpgrade(urls[1], [PROTOCOL_V1], bearer(newToken));
      expect(newSocket.ok).toBe(true);
      let newSocketClosed = false;
      if (newSocket.ok) newSocket.ws.once('close', () => (newSocketClosed = true));

      // The window ends: the open old-key socket closes with 4401 (E_TOKEN_EXPIRED), not before.
      const { code, at } = await closed;
      expect(code).toBe(4401);
      expect(at).toBeGreaterThanOrEqual(until - 50);
      expect(at).toBeLessThan(until + 5000);
      expect(await tryUpgrade(urls[1], [PROTOCOL_V1], bearer(oldToken))).toMatchObject({
        ok: false,
        status: 401,
        body: 'E_UNAUTHORIZED',
      });
      const late = await tryUpgrade(urls[1], [PROTOCOL_V1], bearer(newToken));
      expect(late.ok).toBe(true);
      if (late.ok) late.ws.close();
      await sleep(2000);
      expect(newSocketClosed).toBe(false);
      if (newSocket.ok) newSocket.ws.close();

      // The camera that reconnected on an old-key token refreshed to the new key before the window's end
      // (the edge announced that end as its token's expiry) and kept its socket and its boxes; the one
      // with a fixed old-key token got none after the window.
      expect(refreshing.drops.filter((t) => t > movedAt)).toEqual([]);
      expect(minted).toBeGreaterThanOrEqual(3);
      expect(refreshing.results.filter((t) => t > until + 1000).length).toBeGreaterThan(2);
      expect(fixed.results.filter((t) => t > until + 1000)).toEqual([]);
      expect(fixed.drops.filter((t) => t >= until - 50).length).toBeGreaterThan(0);
      fixed.stop();
      refreshing.stop();
    },
  );

  it(
    'JWKS: the file gains the new key (verified by kid) without dropping old-key sockets, then loses the old one',
    { timeout: 60_000 },
    async ({ expect }) => {
      const dir = mkdtempSync(join(tmpdir(), 'rotate-jwks-'));
      const jwksFile = join(dir, 'jwks.json');
      const [oldKey, newKey] = [await keyPair('site-2026-11'), await keyPair('site-2026-12')];
      writeFileSync(jwksFile, JSON.stringify({ keys: [oldKey.jwk] }));
      const edge = await site.start('edge', { AUTH_DISABLED: '', JWKS_FILE: jwksFile });
      const url = `ws://127.0.0.1:${edge.port}/ws/detect`;
      const sign = async (key: typeof oldKey) =>
        (await mintToken({ subject: key.kid, ttlS: 3600 }, { privateKey: key.pem, alg: 'ES256', kid: key.kid })).token;
      const [oldToken, newToken] = [await sign(oldKey), await sign(newKey)];
      const upgradeOk = async (token: string) => {
        const r = await tryUpgrade(url, [PROTOCOL_V1], bearer(token));
        if (r.ok) r.ws.close();
        return r.ok;
      };
      const held = camera(new VisionClient({ url, token: oldToken, webSocket: nodeSocket }), image, 'jwks-old');
      await expect.poll(() => held.results.length, { timeout: 15_000 }).toBeGreaterThan(2);
      expect(await upgradeOk(newToken)).toBe(false);

      // The edge re-reads the file when it changes: both keys verify, each by its kid.
      writeFileSync(jwksFile, JSON.stringify({ keys: [oldKey.jwk, newKey.jwk] }));
      await expect.poll(() => upgradeOk(newToken), { timeout: 15_000, interval: 500 }).toBe(true);
      expect(await upgradeOk(oldToken)).toBe(true);

      // The old key leaves the file: new sockets with its tokens are refused; the open one lives on
      // until its token's exp (docs/tokens.md), and the camera kept streaming throughout.
      writeFileSync(jwksFile, JSON.stringify({ keys: [newKey.jwk] }));
      await expect.poll(() => upgradeOk(oldToken), { timeout: 15_000, interval: 500 }).toBe(false);
      expect(await upgradeOk(newToken)).toBe(true);
      const removedAt = Date.now();
      await expect.poll(() => held.results.filter((t) => t > removedAt).length, { timeout: 10_000 }).toBeGreaterThan(2);
      expect(held.drops).toEqual([]);
      held.stop();
    },
  );
});

async function keyPair(kid: string): Promise<{ kid: string; pem: string; jwk: Record<string, unknown> }> {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub = await importSPKI(pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'ES256');
  return {
    kid,
    pem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    jwk: { ...(await exportJWK(pub)), kid, alg: 'ES256', use: 'sig' },
  };
}
