import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeMovingSquare,
  freePort,
  modelsDir,
  movingSquareJpegs,
  startMjpegServer,
  startService,
  type MovingSquare,
  type ServiceProcess,
  type TestMjpegServer,
  sleep,
} from '@vision/testing';
import { gatewayApi, waitFor } from './gateway-harness';

const SQUARE: MovingSquare = { width: 640, height: 360, fps: 10, y: 20, speed: 288 };
const FPS = 5;

/**
 * Sources that fail in every way a site's cameras do, each with its own state and code, while a
 * good camera on the same gateway keeps its rate; ffmpeg missing; a refused cameras file; and the
 * API's answers to bad requests.
 */
describe('gateway: bad input', () => {
  let dir: string;
  let mjpeg: TestMjpegServer;
  let server: ServiceProcess;
  const gateways: ServiceProcess[] = [];
  let a: ReturnType<typeof gatewayApi>;
  let b: ReturnType<typeof gatewayApi>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-bad-'));
    const [clip, short, jpegs, closed] = await Promise.all([
      encodeMovingSquare(dir, SQUARE, 'mp4'),
      encodeMovingSquare(dir, { ...SQUARE, width: 352, height: 192, speed: 288 }, 'mp4'), // one second long
      movingSquareJpegs(SQUARE),
      freePort(),
    ]);
    mjpeg = await startMjpegServer({ frames: jpegs, fps: SQUARE.fps });
    server = await startService('server', {
      MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'),
      TENANT_MAX_QUEUE: '64',
    });
    const edge = `ws://127.0.0.1:${server.port}/ws/detect`;
    const cameras = [
      { id: 'good', url: mjpeg.url('/stream.mjpg'), fps: FPS },
      { id: 'snapshot', url: mjpeg.url('/snapshot.jpg'), fps: 2 },
      { id: 'too-large', url: mjpeg.url('/stream.mjpg'), fps: 2, maxWidth: 320, maxHeight: 180 },
      { id: 'html', url: mjpeg.url('/page.html') },
      { id: 'garbage', url: mjpeg.url('/garbage.mjpg') },
      { id: 'silent', url: mjpeg.url('/silent.mjpg') },
      { id: 'ended', url: short, loop: false },
      { id: 'missing', url: join(dir, 'nope.mp4') },
      { id: 'refused', url: `rtsp://127.0.0.1:${closed}/cam` },
    ];
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ cameras }));
    writeFileSync(
      join(dir, 'b.json'),
      JSON.stringify({
        cameras: [
          { id: 'good-b', url: mjpeg.url('/stream.mjpg'), fps: FPS, gateway: 0 },
          { id: 'file-b', url: clip, gateway: 0 },
          { id: 'elsewhere', url: clip, gateway: 1 },
        ],
      }),
    );
    const common = {
      GATEWAY_EDGE_URLS: edge,
      CAMERA_STALL_TIMEOUT_MS: '1500',
      CAMERA_MAX_FRAME_BYTES: String(256 * 1024),
    };
    gateways.push(
      await startService('gateway', { ...common, CAMERAS_FILE: join(dir, 'a.json'), GATEWAY_MAX_CAMERAS: '9' }),
    );
    gateways.push(
      await startService('gateway', {
        ...common,
        CAMERAS_FILE: join(dir, 'b.json'),
        FFMPEG_PATH: join(dir, 'no-ffmpeg-here'),
        GATEWAY_INDEX: '0',
        GATEWAY_COUNT: '2',
      }),
    );
    [a, b] = gateways.map((g) => gatewayApi(g));
  });

  afterAll(async () => {
    await Promise.all([...gateways, server].map((p) => p?.kill('SIGKILL')));
    await mjpeg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives each broken source a clear state and code; the good cameras and the gateway carry on', async () => {
    const expected: Record<string, { code: string; states: string[] }> = {
      html: { code: 'E_CAMERA_NOT_VIDEO', states: ['backoff', 'connecting'] },
      garbage: { code: 'E_CAMERA_BAD_DATA', states: ['backoff', 'connecting'] },
      silent: { code: 'E_CAMERA_STALLED', states: ['backoff', 'connecting'] },
      ended: { code: 'E_CAMERA_ENDED', states: ['stopped'] },
      missing: { code: 'E_CAMERA_UNREACHABLE', states: ['backoff', 'connecting'] },
      refused: { code: 'E_CAMERA_UNREACHABLE', states: ['backoff', 'connecting'] },
    };
    const t0 = Date.now();
    const start = await a.camera('good');
    for (const [id, want] of Object.entries(expected)) {
      const c = await waitFor(
        `${id}: ${want.code}`,
        async () => {
          const v = await a.camera(id);
          return v.error?.code === want.code && want.states.includes(v.state) ? v : undefined;
        },
        10_000,
      );
      expect(c.error!.message.length, id).toBeGreaterThan(5);
    }
    expect((await a.camera('ended')).stopReason).toBe('ended');
    expect((await a.camera('ended')).stats.framesIn).toBeGreaterThan(0); // it played, then ended
    expect((await a.camera('html')).stats.reconnects).toBeGreaterThanOrEqual(1); // retried with backoff
    // Sources that fit are read in Node; frames above the camera's size go through ffmpeg.
    expect(
      await waitFor('snapshot polling', async () =>
        (await a.camera('snapshot')).stats.results > 0 ? (await a.camera('snapshot')).mode : undefined,
      ),
    ).toBe('snapshot');
    const big = await waitFor('too-large through ffmpeg', async () => {
      const v = await a.camera('too-large');
      return v.mode === 'ffmpeg' && v.state === 'streaming' && v.lastResult ? v : undefined;
    });
    const red = big.lastResult!.detections.filter((d) => d.name === 'red');
    expect(red.length).toBeGreaterThan(0);
    expect(Math.max(...red.map((d) => d.ymax))).toBeLessThanOrEqual(180); // boxes in the scaled frame's pixels

    // ffmpeg missing: its cameras say so; a camera that needs no ffmpeg streams on.
    const missing = await waitFor('E_CAMERA_FFMPEG_MISSING', async () => {
      const v = await b.camera('file-b');
      return v.error?.code === 'E_CAMERA_FFMPEG_MISSING' ? v : undefined;
    });
    expect(['backoff', 'connecting']).toContain(missing.state);
    expect((await b.cameras()).map((c) => c.id)).toEqual(['file-b', 'good-b']); // 'elsewhere' is gateway 1's

    await sleep(Math.max(0, 3000 - (Date.now() - t0)));
    const end = await a.camera('good');
    const seconds = (Date.now() - t0) / 1000;
    expect(end.state).toBe('streaming');
    expect(end.stats.reconnects).toBe(0);
    expect(end.stats.framesIn - start.stats.framesIn).toBeGreaterThanOrEqual(Math.floor(FPS * seconds * 0.8));
    expect(end.stats.results - start.stats.results).toBeGreaterThanOrEqual(Math.floor(FPS * seconds * 0.7));
    const goodB = await b.camera('good-b');
    expect([goodB.state, goodB.mode, goodB.stats.reconnects]).toEqual(['streaming', 'passthrough', 0]);
    for (const g of gateways) expect(g.proc.exitCode).toBeNull();
  });

  it('answers bad API requests with stable codes', async () => {
    const err = (r: { json: unknown }) => (r.json as { error: { code: string; message: string } }).error;
    const cases: [Promise<{ status: number; json: unknown }>, number, string, RegExp?][] = [
      [a.call('POST', '/v1/cameras', { id: 'bad id', url: '/x.mp4' }), 400, 'E_CAMERA_INVALID', /^id: /],
      [a.call('POST', '/v1/cameras', { id: 'x', url: '/x.mp4', fps: 500 }), 400, 'E_CAMERA_INVALID', /^fps: /],
      [a.call('POST', '/v1/cameras', { id: 'x', url: 'ndi://studio/a' }), 400, 'E_CAMERA_INVALID', /^url: must be /],
      [
        a.call('POST', '/v1/cameras', { id: 'x', url: 'testsrc://?size=1x1' }),
        400,
        'E_CAMERA_INVALID',
        /^url: testsrc:\/\/ size must be/,
      ],
      [a.call('POST', '/v1/cameras', '{"id": "x", '), 400, 'E_BAD_REQUEST', /not JSON/],
      [
        a.call('POST', '/v1/cameras', { id: 'x', url: '/x.mp4', pad: 'y'.repeat(70_000) }),
        413,
        'E_BODY_TOO_LARGE',
        /larger than 65536 bytes/,
      ],
      [a.call('POST', '/v1/cameras', { id: 'html', url: '/x.mp4' }), 409, 'E_CAMERA_EXISTS'],
      [a.call('POST', '/v1/cameras', { id: 'tenth', url: '/x.mp4' }), 409, 'E_CAMERA_LIMIT'],
      [a.call('PATCH', '/v1/cameras/html', { id: 'renamed' }), 400, 'E_CAMERA_INVALID', /^id: /],
      [a.call('GET', '/v1/cameras/nope'), 404, 'E_CAMERA_NOT_FOUND'],
      [a.call('DELETE', '/v1/cameras/nope'), 404, 'E_CAMERA_NOT_FOUND'],
      [a.call('GET', '/v1/cameras/html/snapshot'), 503, 'E_CAMERA_NO_FRAME'],
      [a.call('GET', '/v1/nothing'), 404, 'E_NO_ROUTE'],
      [a.call('PUT', '/v1/cameras/html'), 405, 'E_METHOD_NOT_ALLOWED'],
      [
        b.call('POST', '/v1/cameras', { id: 'pinned', url: '/x.mp4', gateway: 1 }),
        409,
        'E_CAMERA_NOT_ASSIGNED',
        /gateway 1/,
      ],
    ];
    for (const [call, status, code, message] of cases) {
      const r = await call;
      expect([r.status, err(r).code], JSON.stringify(r.json)).toEqual([status, code]);
      if (message) expect(err(r).message).toMatch(message);
    }
    expect((await a.cameras()).length).toBe(9);
  });

  it('refuses to start on an invalid cameras file, naming the entry and field', async () => {
    writeFileSync(
      join(dir, 'bad.json'),
      JSON.stringify({
        cameras: [
          { id: 'ok', url: '/x.mp4' },
          { id: 'b', url: '/y.mp4', fps: 'fast' },
        ],
      }),
    );
    const started = startService('gateway', {
      CAMERAS_FILE: join(dir, 'bad.json'),
      GATEWAY_EDGE_URLS: `ws://127.0.0.1:${server.port}/ws/detect`,
    });
    await expect(started).rejects.toThrow(/exited \(1\).*E_CONFIG.*cameras\[1\]\.fps/);
  });
});
