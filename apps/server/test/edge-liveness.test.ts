import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { mintToken, RedisRevocations } from '@vision/auth';
import { TIMINGS } from '@vision/config';
import { encodeFrame, ERROR_CODES, PROTOCOL_V1 } from '@vision/wire';
import {
  COLORS,
  drawScene,
  modelsDir,
  startRedisSite,
  TEST_JWT_SECRET,
  TestClient,
  tryUpgrade,
  type RedisSite,
  sleep,
} from '@vision/testing';

/**
 * How long connections live: a quiet client is kept (pings answered) until IDLE_TIMEOUT_MS and no
 * longer; a message left unfinished is reaped even while pongs flow; an expired or revoked token
 * ends the connection. One edge runs the default timings (the 55-second case), one short ones.
 * The cases run at once: most of their time is waiting.
 */
describe.concurrent('edge liveness: quiet clients stay, unfinished messages and dead tokens go', () => {
  let site: RedisSite;
  let standard: string;
  let fast: string;
  let revocations: RedisRevocations;
  const FAST = { PING_INTERVAL_MS: '400', IDLE_TIMEOUT_MS: '3000', MESSAGE_TIMEOUT_MS: '1000' };
  const square = () =>
    drawScene({
      width: 1280,
      height: 720,
      format: 'jpeg',
      rects: [{ x: 640, y: 232, w: 64, h: 64, color: COLORS.red }],
    });
  const token = async (ttlS = 3600) => mintToken({ subject: 'camera', ttlS }, { secret: TEST_JWT_SECRET });
  const auth = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });

  beforeAll(async () => {
    site = await startRedisSite('live', { env: { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') } });
    const edgeEnv = { AUTH_DISABLED: '', JWT_SECRET: TEST_JWT_SECRET, JWT_CLOCK_SKEW_S: '1' };
    await site.start('worker');
    const [a, b] = await Promise.all([site.start('edge', edgeEnv), site.start('edge', { ...edgeEnv, ...FAST })]);
    standard = `ws://127.0.0.1:${a.port}/ws/detect`;
    fast = `ws://127.0.0.1:${b.port}/ws/detect`;
    revocations = new RedisRevocations({ target: site.redis.url, prefix: site.prefix });
  });

  afterAll(async () => {
    await revocations.close();
    await site.stop();
  });

  it(
    'keeps a seed client that is quiet for 55 s after a reply (pings answered), and answers its next frame',
    { timeout: 90_000 },
    async ({ expect }) => {
      const c = new TestClient(standard, undefined, auth((await token()).token));
      let pings = 0;
      c.ws.on('ping', () => pings++);
      await c.opened;
      c.send(await square());
      await c.waitFor(1);
      await sleep(55_000);
      expect(pings).toBeGreaterThanOrEqual(2); // the default PING_INTERVAL_MS is 25 s
      expect(c.ws.readyState).toBe(c.ws.OPEN);
      c.send(await square());
      const [, boxes] = (await c.waitFor(2)) as [unknown, { name: string }[]];
      expect(boxes.map((b) => b.name)).toEqual(['red']);
      c.close();
    },
  );

  it('closes a quiet client E_IDLE_TIMEOUT once IDLE_TIMEOUT_MS has passed, not before', async ({ expect }) => {
    const c = new TestClient(fast, PROTOCOL_V1, auth((await token()).token));
    let pings = 0;
    c.ws.on('ping', () => pings++);
    await c.waitFor(1);
    c.send(encodeFrame({ frameId: 1 }, await square()));
    await c.waitFor(2);
    const quietFrom = Date.now();
    const code = await c.closed;
    const quiet = Date.now() - quietFrom;
    expect(code).toBe(4408);
    expect(c.ofType('error').at(-1)).toMatchObject({ error: { code: 'E_IDLE_TIMEOUT' } });
    expect(quiet).toBeGreaterThanOrEqual(3000);
    expect(quiet).toBeLessThan(3000 + 2000);
    expect(pings).toBeGreaterThanOrEqual(5);
  });

  it('reaps a message left unfinished while the client keeps answering pings', async ({ expect }) => {
    const c = new TestClient(fast, PROTOCOL_V1, auth((await token()).token));
    let pings = 0;
    c.ws.on('ping', () => pings++);
    await c.waitFor(1);
    c.ws.send(Buffer.alloc(64 * 1024, 7), { fin: false });
    const t0 = Date.now();
    expect(await c.closed).toBe(4408);
    expect(c.ofType('error').at(-1)).toMatchObject({ error: { code: 'E_MESSAGE_TIMEOUT' } });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - t0).toBeLessThan(1000 + 2000);
    expect(pings).toBeGreaterThanOrEqual(1);
  });

  it('closes a session whose token expires (4401), long before its idle timeout', async ({ expect }) => {
    const c = new TestClient(standard, PROTOCOL_V1, auth((await token(2)).token));
    const [hello] = (await c.waitFor(1)) as { tokenExpiresAt: number }[];
    const t0 = Date.now();
    expect(await c.closed).toBe(4401);
    expect(c.ofType('error').at(-1)).toMatchObject({ error: { code: 'E_TOKEN_EXPIRED' } });
    // Expiry plus the 1 s clock skew, and well inside the default 60 s idle timeout.
    expect(Date.now()).toBeGreaterThanOrEqual(hello.tokenExpiresAt + 1000 - 50);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('revokes a token: its open socket closes E_TOKEN_REVOKED within seconds, and it is refused from then on', async ({
    expect,
  }) => {
    const revoked = await token();
    const kept = await token();
    const victim = new TestClient(standard, PROTOCOL_V1, auth(revoked.token));
    const bystander = new TestClient(standard, PROTOCOL_V1, auth(kept.token));
    await Promise.all([victim.waitFor(1), bystander.waitFor(1)]);
    const t0 = Date.now();
    await revocations.revoke(revoked.tokenId, revoked.expiresAt);
    expect(await victim.closed).toBe(4401);
    expect(victim.ofType('error').at(-1)).toMatchObject({ error: { code: 'E_TOKEN_REVOKED' } });
    expect(Date.now() - t0).toBeLessThan(2 * TIMINGS.revocationCheckMs + 1000);
    expect(await tryUpgrade(standard, [PROTOCOL_V1], auth(revoked.token))).toMatchObject({
      ok: false,
      status: 401,
      body: 'E_TOKEN_REVOKED',
    });
    const http = standard.replace('ws://', 'http://').replace('/ws/detect', '/v1/detect');
    const res = await fetch(http, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg', authorization: `Bearer ${revoked.token}` },
      body: await square(),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: { code: 'E_TOKEN_REVOKED', message: ERROR_CODES.E_TOKEN_REVOKED.message },
    });
    // Another token of the same subject is untouched.
    bystander.send(encodeFrame({ frameId: 1 }, await square()));
    await expect.poll(() => bystander.ofType('result').length).toBe(1);
    bystander.close();
  });
});
