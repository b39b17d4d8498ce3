import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  type ServiceProcess,
} from '@vision/testing';

type Reply = {
  type: string;
  frameId?: number;
  streamId?: string;
  model?: string;
  modelVersion?: string;
  batchSize?: number;
  detections?: { name: string }[];
  error?: { code: string };
};

/** A green square on one 32-px cell of a 640×480 JPEG (the colour models see it as one box). */
const scene = () =>
  drawScene({
    width: 640,
    height: 480,
    format: 'jpeg',
    rects: [{ x: 256, y: 176, w: 32, h: 32, color: COLORS.green }],
  });

function writeRepository(dir: string, models: object[], def = 'colors'): string {
  const file = join(dir, 'models.json');
  writeFileSync(file, JSON.stringify({ default: def, models }));
  return file;
}

/**
 * Three models side by side (the colour detector, the same detector with Spanish class names and a
 * higher threshold, and the YOLOv8n-topology model), served by one worker process behind one edge.
 */
describe('several models: repository, per-stream choice, GET /v1/models', () => {
  let site: RedisSite;
  let dir: string;
  let edge: ServiceProcess;
  let worker: ServiceProcess;
  const base = () => `127.0.0.1:${edge.port}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vision-models-'));
    writeFileSync(join(dir, 'es.names'), 'rojo\nverde\nazul\n');
    const colors = join(modelsDir(), 'colors-v8-dyn.onnx');
    const file = writeRepository(dir, [
      { id: 'colors', path: colors, version: '1' },
      { id: 'colores', path: colors, version: '7', namesFile: join(dir, 'es.names'), confThreshold: 0.5 },
      { id: 'topology', path: join(modelsDir(), 'yolov8n-topology-320.onnx'), version: '1' },
    ]);
    site = await startRedisSite('models', { env: { MODELS_FILE: file, MAX_BATCH: '16' } });
    worker = await site.start('worker');
    edge = await site.start('edge', {
      AUTH_DISABLED: '',
      JWT_SECRET: TEST_JWT_SECRET,
      MAX_IN_FLIGHT: '16',
      TENANT_MAX_QUEUE: '64',
      FRAMES_PER_SECOND: '100',
    });
  });

  afterAll(async () => {
    await site.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the models with readiness, input shape, layout and classes', async () => {
    const token = await signTestToken();
    const r = await fetch(`http://${base()}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { default: string; models: Record<string, unknown>[] };
    expect(body.default).toBe('colors');
    expect(body.models.map((m) => m['name'])).toEqual(['colors', 'colores', 'topology']);
    expect(body.models[0]).toMatchObject({
      version: '1',
      ready: true,
      default: true,
      platform: 'onnxruntime_onnx',
      layout: 'v8',
      inputs: [{ name: 'images', datatype: 'FP32', shape: [-1, 3, 640, 640] }],
    });
    expect((body.models[0]['classes'] as string[]).slice(0, 3)).toEqual(['red', 'green', 'blue']);
    expect(body.models[1]).toMatchObject({ version: '7', loadedVersion: '7', classes: ['rojo', 'verde', 'azul'] });
    expect(body.models[2]).toMatchObject({ ready: true, inputs: [{ shape: [-1, 3, 320, 320] }] });
    expect((body.models[2]['classes'] as string[]).length).toBe(80);
    // A token limited to some models sees only those; no token, nothing.
    const limited = await signTestToken({ models: ['colores'] });
    const seen = (await (
      await fetch(`http://${base()}/v1/models`, { headers: { authorization: `Bearer ${limited}` } })
    ).json()) as { models: { name: string }[] };
    expect(seen.models.map((m) => m.name)).toEqual(['colores']);
    expect((await fetch(`http://${base()}/v1/models`)).status).toBe(401);
  });

  it("gives two cameras on one connection each its model's boxes, and never mixes models in a batch", async () => {
    const token = await signTestToken();
    const c = new TestClient(`ws://${base()}/ws/detect?model=colors`, PROTOCOL_V1, {
      headers: { authorization: `Bearer ${token}` },
    });
    const [hello] = (await c.waitFor(1)) as Reply[];
    expect(hello).toMatchObject({ type: 'hello', model: 'colors' });
    c.send(JSON.stringify({ type: 'model', model: 'colores', streamId: 'scaffold' }));
    expect((await c.waitFor(2))[1]).toEqual({ type: 'model', model: 'colores', version: '7', streamId: 'scaffold' });
    const image = await scene();
    // A burst of 8 frames per model at once: a batcher that mixed models would run batches above 8.
    for (let i = 1; i <= 16; i++) c.send(encodeFrame({ frameId: i, streamId: i % 2 ? 'gate' : 'scaffold' }, image));
    const replies = ((await c.waitFor(18, 20_000)).slice(2) as Reply[]).filter((r) => r.type === 'result');
    expect(replies).toHaveLength(16);
    for (const r of replies) {
      const gate = r.streamId === 'gate';
      expect(r).toMatchObject({ model: gate ? 'colors' : 'colores', modelVersion: gate ? '1' : '7' });
      expect(r.detections!.map((d) => d.name)).toEqual([gate ? 'green' : 'verde']);
      expect(r.batchSize).toBeLessThanOrEqual(8);
    }
    // The worker's per-model batch sizes add up to each model's own frames.
    const text = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
    for (const m of ['colors', 'colores'])
      expect(text).toMatch(new RegExp(`^vision_worker_batch_size_sum\\{model="${m}"\\} 8$`, 'm'));
    c.ws.close();
  });

  it('refuses an unknown model before queueing anything, and a model the token does not allow', async () => {
    const token = await signTestToken({ models: ['colors', 'topology'] });
    const auth = { authorization: `Bearer ${token}` };
    expect(await tryUpgrade(`ws://${base()}/ws/detect?model=nope`, [], { headers: auth })).toMatchObject({
      status: 404,
      body: expect.stringContaining('E_UNKNOWN_MODEL'),
    });
    expect(await tryUpgrade(`ws://${base()}/ws/detect?model=colores`, [], { headers: auth })).toMatchObject({
      status: 403,
    });
    const r = await fetch(`http://${base()}/v1/detect?model=nope`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'image/jpeg' },
      body: new Uint8Array(await scene()),
    });
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ error: { code: 'E_UNKNOWN_MODEL' } });

    const c = new TestClient(`ws://${base()}/ws/detect?model=topology`, PROTOCOL_V1, { headers: auth });
    await c.waitFor(1);
    c.send(JSON.stringify({ type: 'model', model: 'nope' }));
    c.send(JSON.stringify({ type: 'model', model: 'colores', streamId: 'x' }));
    const [unknown, forbidden] = (await c.waitFor(3)).slice(1) as Reply[];
    expect(unknown).toMatchObject({ type: 'error', error: { code: 'E_UNKNOWN_MODEL' } });
    expect(forbidden).toMatchObject({ type: 'error', streamId: 'x', error: { code: 'E_FORBIDDEN' } });
    // The connection carries on with its model.
    c.send(encodeFrame({ frameId: 1 }, await scene()));
    expect((await c.waitFor(4))[3]).toMatchObject({ type: 'result', frameId: 1, model: 'topology', modelVersion: '1' });
    const ok = await fetch(`http://${base()}/v1/detect?model=topology`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'image/jpeg' },
      body: new Uint8Array(await scene()),
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-model')).toBe('topology');
    c.ws.close();
  });
});
