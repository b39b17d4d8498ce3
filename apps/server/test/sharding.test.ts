import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, PROTOCOL_V1 } from '@vision/wire';
import { shardOf } from '@vision/transport';
import {
  COLORS,
  drawScene,
  modelsDir,
  startService,
  startTestRedis,
  TestClient,
  type ServiceProcess,
  type TestRedis,
} from '@vision/testing';

const STREAMS = 8;
const PER_STREAM = 4;

async function framesDone(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(/^vision_worker_frames_total\{model="default",outcome="result"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

/**
 * Cameras spread over two Redis instances by one edge (REDIS_URL=a,b), one worker per shard:
 * every frame is answered correctly, and each camera's frames all go to the shard its hash names.
 */
describe('sharding: one edge over two Redis instances', () => {
  const redis: TestRedis[] = [];
  const procs: ServiceProcess[] = [];
  let edge: ServiceProcess;
  let workers: ServiceProcess[];

  beforeAll(async () => {
    redis.push(await startTestRedis({ own: true }), await startTestRedis({ own: true }));
    const model = join(modelsDir(), 'colors-v8-dyn.onnx');
    workers = await Promise.all(
      redis.map((r, i) => startService('worker', { REDIS_URL: r.url, MODEL_PATH: model, WORKER_ID: `shard-${i}` })),
    );
    edge = await startService('edge', {
      REDIS_URL: redis.map((r) => r.url).join(','),
      TENANT_MAX_QUEUE: '64',
      MAX_IN_FLIGHT: '8',
    });
    procs.push(...workers, edge);
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await Promise.all(redis.map((r) => r.stop()));
  });

  it('routes each camera to its shard and answers every frame with its boxes', async () => {
    const c = new TestClient(`ws://127.0.0.1:${edge.port}/ws/detect`, PROTOCOL_V1);
    await c.waitFor(1);
    const image = await drawScene({
      width: 640,
      height: 480,
      format: 'jpeg',
      rects: [{ x: 256, y: 176, w: 32, h: 32, color: COLORS.blue }],
    });
    let frameId = 0;
    for (let round = 0; round < PER_STREAM; round++) {
      for (let s = 0; s < STREAMS; s++) c.send(encodeFrame({ frameId: ++frameId, streamId: `cam-${s}` }, image));
      await c.waitFor(1 + frameId, 10_000);
    }
    const replies = c.messages.slice(1);
    expect(replies).toHaveLength(STREAMS * PER_STREAM);
    for (const r of replies)
      expect(r).toMatchObject({
        type: 'result',
        detections: [{ name: 'blue', xmin: 256, ymin: 176, xmax: 288, ymax: 208 }],
      });

    // The edge reports the tenant of an unauthenticated client as its address.
    const tenant = `ip:127.0.0.1`;
    const expected = [0, 0];
    for (let s = 0; s < STREAMS; s++) expected[shardOf({ tenant, streamId: `cam-${s}`, connId: '' }, 2)] += PER_STREAM;
    expect(
      expected.every((n) => n > 0),
      'the test streams cover both shards',
    ).toBe(true);
    expect(await Promise.all(workers.map((w) => framesDone(w.metricsPort)))).toEqual(expected);
    // Each camera has its own fps series on the edge.
    const text = await (await fetch(`http://127.0.0.1:${edge.metricsPort}/metrics`)).text();
    for (let s = 0; s < STREAMS; s++)
      expect(text).toContain(`vision_edge_stream_frames_total{stream="cam-${s}",outcome="result"} ${PER_STREAM}`);
  });
});
