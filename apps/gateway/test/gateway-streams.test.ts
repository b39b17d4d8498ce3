import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import {
  cleanupPrefix,
  encodeMovingSquare,
  freePort,
  modelsDir,
  movingSquareJpegs,
  signTestToken,
  squarePath,
  startMjpegServer,
  startRtspServer,
  startService,
  startTestRedis,
  TEST_JWT_SECRET,
  uniquePrefix,
  type MovingSquare,
  type ServiceProcess,
  type TestMjpegServer,
  type TestRedis,
  type TestRtspServer,
  sleep,
} from '@vision/testing';
import { gatewayApi, unionBox, waitFor, type CameraView } from './gateway-harness';

/**
 * 640×360 frames: letterboxed to 640×640 with 140 px of padding, a square at y = 20 fills whole model
 * cells (rows 5 and 6).
 */
const SQUARE: MovingSquare = { width: 640, height: 360, fps: 10, y: 20, speed: 192 };
const FPS = 5;
const RTSP_USER = 'admin';
const RTSP_PASSWORD = 'Sup3r:S3cret@RTSP';
const RTSP_TOKEN = 'qtok-7f3a9c1e';
const MJPEG_USER = 'viewer';
const MJPEG_PASSWORD = 'Mj-P4ss-9d2b';
const SECRETS = [
  RTSP_PASSWORD,
  encodeURIComponent(RTSP_PASSWORD),
  RTSP_TOKEN,
  MJPEG_PASSWORD,
  Buffer.from(`${MJPEG_USER}:${MJPEG_PASSWORD}`).toString('base64'),
];

/**
 * Three real cameras through a gateway into a real edge and worker (on Redis), authenticated end
 * to end: an RTSP camera (Debian's GStreamer RTSP server, Basic auth, a token in its URL), an HTTP
 * MJPEG camera (Basic auth) and a looped file, each showing a red square that crosses the image.
 */
describe('gateway: RTSP, MJPEG and file cameras into edge and worker', () => {
  let dir: string;
  let redis: TestRedis;
  const prefix = uniquePrefix('gw');
  let rtsp: TestRtspServer;
  let mjpeg: TestMjpegServer;
  const procs: ServiceProcess[] = [];
  let edge: ServiceProcess;
  let gateway: ServiceProcess;
  let api: ReturnType<typeof gatewayApi>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-streams-'));
    const [h264, mp4, jpegs] = await Promise.all([
      encodeMovingSquare(dir, SQUARE, 'h264'),
      encodeMovingSquare(dir, SQUARE, 'mp4'),
      movingSquareJpegs(SQUARE),
    ]);
    [rtsp, mjpeg, redis] = await Promise.all([
      startRtspServer({ clip: h264, fps: SQUARE.fps, user: RTSP_USER, password: RTSP_PASSWORD }),
      startMjpegServer({ frames: jpegs, fps: SQUARE.fps, user: MJPEG_USER, password: MJPEG_PASSWORD }),
      startTestRedis(),
    ]);
    const common = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, AUTH_DISABLED: '', JWT_SECRET: TEST_JWT_SECRET };
    procs.push(await startService('worker', { ...common, MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') }));
    edge = await startService('edge', common);
    procs.push(edge);
    const cameras = [
      { id: 'rtsp', url: `${rtsp.url(true)}?token=${RTSP_TOKEN}`, fps: FPS },
      { id: 'mjpeg', url: mjpeg.url('/stream.mjpg', true), fps: FPS },
      { id: 'file', url: mp4, fps: FPS },
    ];
    writeFileSync(join(dir, 'cameras.json'), JSON.stringify({ cameras }));
    gateway = await startService('gateway', {
      JWT_SECRET: TEST_JWT_SECRET,
      AUTH_DISABLED: '',
      CAMERAS_FILE: join(dir, 'cameras.json'),
      GATEWAY_EDGE_URLS: `ws://127.0.0.1:${edge.port}/ws/detect`,
      CAMERA_STALL_TIMEOUT_MS: '4000',
      LOG_LEVEL: 'debug',
    });
    procs.push(gateway);
    api = gatewayApi(gateway, await signTestToken({ sub: 'operator', scope: 'cameras:read cameras:write' }));
  });

  // Each test starts from the same state, whatever ran before it: the three cameras streaming with results.
  beforeEach(async () => {
    await waitFor(
      'every camera streaming with results',
      async () => {
        const cams = await api.cameras();
        return cams.length === 3 && cams.every((c) => c.state === 'streaming' && c.stats.results > 0)
          ? cams
          : undefined;
      },
      20_000,
    );
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await Promise.all([rtsp?.kill(), mjpeg?.stop()]);
    if (redis) {
      await cleanupPrefix(redis.url, prefix);
      await redis.stop();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives each camera boxes that move as its clip does, through edge and worker', async () => {
    const seen = new Map<string, Map<number, NonNullable<CameraView['lastResult']>>>(
      ['rtsp', 'mjpeg', 'file'].map((id) => [id, new Map()]),
    );
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      for (const c of await api.cameras()) if (c.lastResult) seen.get(c.id)!.set(c.lastResult.frameId, c.lastResult);
      await sleep(100);
    }
    const path = squarePath(SQUARE);
    for (const [id, results] of seen) {
      const r = [...results.values()].sort((a, b) => a.captureTs - b.captureTs);
      expect(r.length, id).toBeGreaterThanOrEqual(8);
      const boxes = r.map((x) => unionBox(x.detections, 'red'));
      for (const b of boxes) {
        // The square covers model rows 5 and 6 exactly; across, two or three partly covered cells.
        expect(b, id).toBeDefined();
        expect([b!.ymin, b!.ymax], id).toEqual([20, 84]);
        expect(b!.xmax - b!.xmin, id).toBeGreaterThanOrEqual(32);
        expect(b!.xmax - b!.xmin, id).toBeLessThanOrEqual(96);
      }
      // Left to right at the clip's speed, wrapping once per crossing.
      const centres = boxes.map((b) => (b!.xmin + b!.xmax) / 2);
      let dx = 0;
      let dt = 0;
      let forward = 0;
      for (let i = 1; i < r.length; i++) {
        const step = centres[i] - centres[i - 1];
        if (step < -path.seconds * SQUARE.speed * 0.5) continue; // the wrap back to the left edge
        dx += step;
        dt += r[i].captureTs - r[i - 1].captureTs;
        if (step > 0) forward++;
      }
      expect((dx * 1000) / dt, `${id}: px/s`).toBeGreaterThan(SQUARE.speed * 0.7);
      expect((dx * 1000) / dt, `${id}: px/s`).toBeLessThan(SQUARE.speed * 1.3);
      expect(forward, id).toBeGreaterThanOrEqual(r.length - 4);
      expect(new Set(centres).size, id).toBeGreaterThanOrEqual(4);
    }
    const cams = await api.cameras();
    expect(cams.map((c) => [c.id, c.mode, c.edge.state])).toEqual([
      ['file', 'ffmpeg', 'open'],
      ['mjpeg', 'passthrough', 'open'],
      ['rtsp', 'ffmpeg', 'open'],
    ]);
    for (const c of cams) {
      expect(c.stats.lastFrameId, c.id).toBe(c.stats.framesIn); // one id per frame, no gaps
      expect(c.stats.errors, c.id).toBe(0);
      expect(c.stats.resultsPerSecond, c.id).toBeGreaterThan(FPS * 0.6);
    }
    const snap = await fetch(`http://127.0.0.1:${gateway.port}/v1/cameras/rtsp/snapshot`, {
      headers: { authorization: `Bearer ${await signTestToken({ sub: 'viewer', scope: 'cameras:read' })}` },
    });
    expect(snap.status).toBe(200);
    expect(snap.headers.get('content-type')).toBe('image/jpeg');
    expect(Number(snap.headers.get('x-frame-id'))).toBeGreaterThan(0);
    expect([...new Uint8Array(await snap.arrayBuffer()).subarray(0, 2)]).toEqual([0xff, 0xd8]);
  });

  it('backs a down RTSP camera off by the documented delays, then resumes; the others keep their rate', async () => {
    const before = new Map((await api.cameras()).map((c) => [c.id, c.stats]));
    const t0 = Date.now();
    await rtsp.kill('SIGKILL');
    const backoffs = () =>
      gateway.logs.filter(
        (l) => l['msg'] === 'camera backoff' && l['camera'] === 'rtsp' && (l['time'] as number) >= t0,
      );
    await waitFor('three backoff delays', () => (backoffs().length >= 3 ? true : undefined), 15_000);
    const down = await api.camera('rtsp');
    expect(down.state).toBe('backoff');
    expect(down.retryInMs).toBeGreaterThan(0);
    await rtsp.start();
    const back = await waitFor(
      'the RTSP camera streaming again',
      async () => {
        const c = await api.camera('rtsp');
        return c.state === 'streaming' && c.stats.results > before.get('rtsp')!.results ? c : undefined;
      },
      15_000,
    );
    const t1 = Date.now();

    // 1 s × 1.5 per attempt, ± 20 % jitter; each attempt starts no sooner than its delay.
    const lines = backoffs();
    lines.forEach((l, k) => {
      const base = 1000 * 1.5 ** k;
      expect(l['attempt'], JSON.stringify(l)).toBe(k + 1);
      expect(l['delayMs'] as number, JSON.stringify(l)).toBeGreaterThanOrEqual(Math.floor(base * 0.8));
      expect(l['delayMs'] as number, JSON.stringify(l)).toBeLessThanOrEqual(Math.ceil(base * 1.2));
      if (k > 0) {
        const gap = (l['time'] as number) - (lines[k - 1]['time'] as number);
        expect(gap).toBeGreaterThanOrEqual(lines[k - 1]['delayMs'] as number);
        expect(gap).toBeLessThan((lines[k - 1]['delayMs'] as number) + 3000);
      }
    });
    expect(['E_CAMERA_ENDED', 'E_CAMERA_UNREACHABLE']).toContain(lines[0]['code']);
    expect(lines.slice(1).map((l) => l['code'])).toEqual(lines.slice(1).map(() => 'E_CAMERA_UNREACHABLE'));
    expect(back.stats.reconnects).toBe(lines.length);
    expect(back.error?.code).toBe('E_CAMERA_UNREACHABLE');

    // The other cameras never noticed: no reconnect, frames and results at their rate all along.
    const expected = (FPS * (t1 - t0)) / 1000;
    for (const c of (await api.cameras()).filter((x) => x.id !== 'rtsp')) {
      const b = before.get(c.id)!;
      expect(c.stats.reconnects, c.id).toBe(0);
      expect(c.stats.framesIn - b.framesIn, c.id).toBeGreaterThanOrEqual(Math.floor(expected * 0.8));
      expect(c.stats.results - b.results, c.id).toBeGreaterThanOrEqual(Math.floor(expected * 0.7));
    }
  });

  it('never shows a camera credential: logs, metrics, API answers and errors', async () => {
    // A camera whose ffmpeg fails, quoting its URL (credentials and token included) in its error.
    const credentials = `${RTSP_USER}:${encodeURIComponent(RTSP_PASSWORD)}`;
    const refusing = `rtsp://${credentials}@127.0.0.1:${await freePort()}/cam?token=${RTSP_TOKEN}`;
    const added = await api.call('POST', '/v1/cameras', { id: 'refusing', url: refusing });
    expect(added.status, added.text).toBe(201);
    onTestFinished(async () => expect((await api.call('DELETE', '/v1/cameras/refusing')).status).toBe(204));
    await waitFor('the refusing camera in backoff', async () =>
      gateway.logs.some((l) => l['msg'] === 'camera backoff' && l['camera'] === 'refusing') ? true : undefined,
    );
    const answers = [
      (await api.call('GET', '/v1/cameras')).text,
      (await api.call('GET', '/v1/cameras/rtsp')).text,
      (await api.call('GET', '/v1/cameras/refusing')).text,
    ];
    // An invalid change quoting a credential-bearing URL, and an unknown scheme.
    answers.push(
      (
        await api.call('PATCH', '/v1/cameras/rtsp', {
          fps: 'fast',
          url: `rtsp://${RTSP_USER}:${encodeURIComponent(RTSP_PASSWORD)}@h/x?token=${RTSP_TOKEN}`,
        })
      ).text,
    );
    answers.push((await api.call('POST', '/v1/cameras', { id: 'x', url: `ftp://u:${MJPEG_PASSWORD}@h/x` })).text);
    const metrics = await (await fetch(`http://127.0.0.1:${gateway.metricsPort}/metrics`)).text();
    const logs = [gateway, edge].map((p) => JSON.stringify(p.logs)).join('\n');
    // The test looks where the URLs would be: the redacted forms are there.
    expect(answers[1]).toContain(`rtsp://***:***@127.0.0.1:${rtsp.port}/cam?token=***`);
    expect(answers[0]).toContain(`http://***:***@127.0.0.1:${mjpeg.port}/stream.mjpg`);
    expect(logs).toContain('rtsp://***@127.0.0.1'); // ffmpeg's error quoting the refusing camera's URL, scrubbed
    expect(answers[2]).toContain('rtsp://***@127.0.0.1'); // the same error, as the API shows it
    expect(metrics).toContain('vision_gateway_frames_total{camera="rtsp",stage="in"}');
    for (const secret of SECRETS) {
      for (const [where, text] of [
        ['API', answers.join('\n')],
        ['metrics', metrics],
        ['logs', logs],
      ])
        expect(text.includes(secret), `${where} shows ${secret}`).toBe(false);
    }
  });

  it('authenticates its API: no token 401, read scope cannot write, write scope can, expired 401', async () => {
    const base = `http://127.0.0.1:${gateway.port}/v1/cameras`;
    const anonymous = await fetch(base);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ error: { code: 'E_UNAUTHORIZED', message: expect.any(String) } });
    const reader = gatewayApi(gateway, await signTestToken({ sub: 'viewer', scope: 'cameras:read' }));
    expect((await reader.call('GET', '/v1/cameras')).status).toBe(200);
    const refused = await reader.call('POST', '/v1/cameras/file/pause');
    expect(refused.status).toBe(403);
    expect(refused.json).toEqual({
      error: { code: 'E_FORBIDDEN', message: 'the token lacks the cameras:write scope' },
    });
    expect((await api.camera('file')).state).toBe('streaming');
    // A token with only the write scope adds and removes a camera (disabled: no source is started).
    const writer = gatewayApi(gateway, await signTestToken({ sub: 'operator', scope: 'cameras:write' }));
    const camera = { id: 'write-scope', url: mjpeg.url('/stream.mjpg'), enabled: false };
    expect((await reader.call('POST', '/v1/cameras', camera)).status).toBe(403);
    const created = await writer.call('POST', '/v1/cameras', camera);
    expect([created.status, (created.json as CameraView).state], created.text).toEqual([201, 'stopped']);
    expect((await writer.call('GET', '/v1/cameras')).status).toBe(403); // writing is not reading
    expect((await reader.call('GET', '/v1/cameras/write-scope')).status).toBe(200);
    expect((await reader.call('DELETE', '/v1/cameras/write-scope')).status).toBe(403);
    expect((await writer.call('DELETE', '/v1/cameras/write-scope')).status).toBe(204);
    expect((await reader.call('GET', '/v1/cameras/write-scope')).status).toBe(404);
    const expired = gatewayApi(
      gateway,
      await signTestToken({ sub: 'operator', scope: 'cameras:read', exp: Math.floor(Date.now() / 1000) - 3600 }),
    );
    expect(((await expired.call('GET', '/v1/cameras')).json as { error: { code: string } }).error.code).toBe(
      'E_TOKEN_EXPIRED',
    );
  });
});
