import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, PROTOCOL_V1, type Detection } from '@vision/wire';
import {
  COLORS,
  drawScene,
  freePort,
  modelsDir,
  startRedisSite,
  startService,
  TestClient,
  type RedisSite,
  type ServiceProcess,
} from '@vision/testing';

const MODEL = join(modelsDir(), 'colors-v8-dyn.onnx');
const CLIENTS = 12;
const FRAMES = 6;
const colors = [COLORS.red, COLORS.green, COLORS.blue] as const;
const names = ['red', 'green', 'blue'];

/** Client i's scene: a 1280×720 JPEG (ratio 0.5, 140 px padding) with a square on its own cell. */
function sceneFor(i: number) {
  const col = 1 + (i % 6) * 3;
  const row = 5 + Math.floor(i / 6) * 4;
  const box = [col * 64, (row * 32 - 140) * 2, col * 64 + 64, (row * 32 - 140) * 2 + 64];
  return {
    box,
    name: names[i % 3],
    image: drawScene({
      width: 1280,
      height: 720,
      format: 'jpeg',
      rects: [{ x: box[0], y: box[1], w: 64, h: 64, color: colors[i % 3] }],
    }),
  };
}

describe('distributed pipeline: 2 edges, 2 workers, real Redis, real processes', () => {
  let site: RedisSite;
  let edges: ServiceProcess[];
  let workers: ServiceProcess[];

  beforeAll(async () => {
    site = await startRedisSite('e2e', { env: { MODEL_PATH: MODEL, LOG_LEVEL: 'info' } });
    workers = await Promise.all(
      ['w1', 'w2'].map((id) =>
        site.start('worker', { WORKER_ID: id, MAX_BATCH: '8', MAX_WAIT_MS: '40', INTRA_OP_THREADS: '1' }),
      ),
    );
    // Every test client comes from 127.0.0.1 (one tenant without auth): let it use the whole backlog.
    edges = await Promise.all(['e1', 'e2'].map((id) => site.start('edge', { EDGE_ID: id, TENANT_MAX_QUEUE: '64' })));
  });

  afterAll(() => site.stop());

  it('both edges are ready and see workers; workers are ready on their ops port', async () => {
    for (const e of edges) {
      const r = await fetch(`http://127.0.0.1:${e.port}/readyz`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ ready: true, checks: { queue: true, accepting: true }, workers: true });
    }
    for (const w of workers) {
      const r = await fetch(`http://127.0.0.1:${w.metricsPort}/readyz`);
      expect(await r.json()).toEqual({
        ready: true,
        checks: { model: true, queue: true, accepting: true, loop: true },
      });
      expect((await fetch(`http://127.0.0.1:${w.metricsPort}/healthz`)).status).toBe(200);
      // The queue gauges are read from Redis at scrape time; reclaims and dead letters are counted.
      const text = await (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics`)).text();
      for (const m of [
        'vision_queue_backlog_frames',
        'vision_queue_pending_frames',
        'vision_worker_reclaimed_frames_total',
        'vision_worker_dead_letters_total',
      ]) {
        expect(text).toMatch(new RegExp(`^${m} \\d+$`, 'm'));
      }
      expect(w.logs[0]).toMatchObject({ role: 'worker', hostname: expect.any(String) });
    }
  });

  it('gives every client exactly its own boxes, and batches across connections', async () => {
    const scenes = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => sceneFor(i)));
    const images = await Promise.all(scenes.map((s) => s.image));
    const clients = scenes.map((_, i) => {
      const edge = edges[i % 2];
      const v1 = i % 4 < 2;
      return { i, v1, c: new TestClient(`ws://127.0.0.1:${edge.port}/ws/detect`, v1 ? PROTOCOL_V1 : undefined) };
    });
    await Promise.all(clients.map((x) => x.c.opened));

    // Each client keeps two frames in flight (its limit) until it has sent FRAMES.
    await Promise.all(
      clients.map(async ({ i, v1, c }) => {
        const greeting = v1 ? 1 : 0;
        let sent = 0;
        const send = () => {
          sent++;
          c.send(v1 ? encodeFrame({ frameId: 1000 * i + sent, streamId: `cam-${i}` }, images[i]) : images[i]);
        };
        send();
        send();
        while (sent < FRAMES) {
          await c.waitFor(greeting + sent - 1, 20_000);
          send();
        }
        await c.waitFor(greeting + FRAMES, 20_000);
      }),
    );

    const batchSizes: number[] = [];
    for (const { i, v1, c } of clients) {
      const replies = c.messages.slice(v1 ? 1 : 0);
      expect(replies, `client ${i}`).toHaveLength(FRAMES);
      const detections: Detection[][] = [];
      for (const r of replies) {
        if (v1) {
          const m = r as {
            type: string;
            frameId: number;
            streamId: string;
            batchSize: number;
            detections: Detection[];
          };
          expect(m.type, JSON.stringify(m)).toBe('result');
          expect(m.streamId).toBe(`cam-${i}`);
          expect(Math.floor(m.frameId / 1000)).toBe(i);
          batchSizes.push(m.batchSize);
          detections.push(m.detections);
        } else {
          expect(Array.isArray(r), JSON.stringify(r)).toBe(true);
          detections.push(r as Detection[]);
        }
      }
      for (const d of detections) {
        expect(d, `client ${i}`).toHaveLength(1);
        expect(d[0].name).toBe(scenes[i].name);
        const got = [d[0].xmin, d[0].ymin, d[0].xmax, d[0].ymax];
        got.forEach((v, k) =>
          expect(Math.abs(v - scenes[i].box[k]), `client ${i} coordinate ${k}`).toBeLessThanOrEqual(1),
        );
      }
      if (v1) {
        const ids = (replies as { frameId: number }[]).map((m) => m.frameId % 1000).sort((a, b) => a - b);
        expect(ids).toEqual(Array.from({ length: FRAMES }, (_, k) => k + 1));
      }
      c.close();
    }
    expect(Math.max(...batchSizes)).toBeGreaterThan(1);
    // Both workers took part: each answered some of the frames, by its own metrics.
    for (const w of workers) {
      const text = await (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics`)).text();
      const answered = Number(/^vision_worker_frames_total\{[^}]*outcome="result"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
      expect(answered, `worker ${w.proc.pid}`).toBeGreaterThan(0);
    }
  });

  it('stops cleanly on SIGTERM: a worker acknowledges what it holds, an edge closes sockets with 1001', async () => {
    // An edge and a worker of its own, so the other tests keep both of theirs whatever the order.
    const [worker, edge] = await Promise.all([
      site.start('worker', { WORKER_ID: 'w-stop', INTRA_OP_THREADS: '1' }),
      site.start('edge', { EDGE_ID: 'e-stop' }),
    ]);
    const c = new TestClient(`ws://127.0.0.1:${edge.port}/ws/detect`);
    await c.opened;
    expect(await edge.kill('SIGTERM')).toBe(0);
    expect(await c.closed).toBe(1001);
    expect(await worker.kill('SIGTERM')).toBe(0);
    expect(worker.logs.some((l) => l['msg'] === 'worker stopped')).toBe(true);
  });
});

describe('npm start (embedded mode, no Redis)', () => {
  it('serves boxes for a real image with the generated demo model', async () => {
    const server = await startService('server', { MODEL_PATH: MODEL });
    try {
      const c = new TestClient(`ws://127.0.0.1:${server.port}/ws/detect`);
      await c.opened;
      const s = await sceneFor(4);
      c.send(await s.image);
      const [reply] = (await c.waitFor(1)) as [Detection[]];
      expect(reply.map((d) => d.name)).toEqual([s.name]);
      expect(server.logs.find((l) => l['msg'] === 'ready')).toMatchObject({ mode: 'embedded' });
    } finally {
      expect(await server.kill('SIGTERM')).toBe(0);
    }
  });

  it('a role without REDIS_URL or MODEL_PATH, or with a bad setting, fails start-up naming the variable', async () => {
    await expect(startService('edge', {}, 10_000)).rejects.toThrow(/REDIS_URL/);
    await expect(startService('server', { MAX_BATCH: 'lots' }, 10_000)).rejects.toThrow(/MAX_BATCH/);
    // Only the embedded demo falls back to the generated model; a worker never serves it silently.
    await expect(startService('worker', { REDIS_URL: 'redis://127.0.0.1:1' }, 10_000)).rejects.toThrow(/MODEL_PATH/);
    await expect(
      startService('worker', { REDIS_URL: 'redis://127.0.0.1:1,redis://127.0.0.1:2', MODEL_PATH: MODEL }, 10_000),
    ).rejects.toThrow(/one shard/);
    const demo = await startService('server', {});
    expect(demo.logs.find((l) => l['msg'] === 'ready')).toMatchObject({ model: 'models/colors-v8-dyn.onnx' });
    expect(await demo.kill('SIGTERM')).toBe(0);
  });

  it('a worker that cannot reach Redis is alive but not ready, on its ops port', async () => {
    const worker = await startService('worker', {
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      MODEL_PATH: MODEL,
    });
    try {
      expect((await fetch(`http://127.0.0.1:${worker.metricsPort}/healthz`)).status).toBe(200);
      const r = await fetch(`http://127.0.0.1:${worker.metricsPort}/readyz`);
      expect(r.status).toBe(503);
      expect(await r.json()).toEqual({
        ready: false,
        checks: { model: true, queue: false, accepting: true, loop: true },
      });
    } finally {
      await worker.kill('SIGKILL');
    }
  });
});
