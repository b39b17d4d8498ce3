import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, PROTOCOL_V1, type Classification, type ResultReply } from '@vision/wire';
import {
  CLASSIFIER_BIAS,
  CLASSIFIER_CLASSES,
  CLASSIFIER_WEIGHTS,
  COLORS,
  drawScene,
  modelsDir,
  signTestToken,
  startService,
  startTestRedis,
  TEST_JWT_SECRET,
  TestClient,
  uniquePrefix,
  type ServiceProcess,
  type TestRedis,
} from '@vision/testing';

/** 224×224, so the classifier sees it unresampled: 150 columns blue, 74 red. */
const scene = () =>
  drawScene({
    width: 224,
    height: 224,
    format: 'png',
    background: COLORS.red,
    rects: [{ x: 0, y: 0, w: 150, h: 224, color: COLORS.blue }],
  });

/** The fixture classifier's answer for that scene, computed here from its weights. */
function expectedTop(k: number): Classification[] {
  const mean = [74 / 224, 0, 150 / 224];
  const exp = CLASSIFIER_WEIGHTS.map((w, i) =>
    Math.exp(w[0] * mean[0] + w[1] * mean[1] + w[2] * mean[2] + CLASSIFIER_BIAS[i]),
  );
  const total = exp.reduce((a, b) => a + b, 0);
  return exp
    .map((e, i) => ({ class: i, name: CLASSIFIER_CLASSES[i] as string, confidence: e / total }))
    .sort((a, b) => b.confidence - a.confidence)
    .slice(0, k);
}

/**
 * A classification model served from MODELS_FILE beside a detector, by one worker behind one edge:
 * its classes reach a yolo.v1 client, a seed client gets its plain (empty) box list.
 */
describe('a classify model end to end', () => {
  let redis: TestRedis;
  let dir: string;
  let edge: ServiceProcess;
  let worker: ServiceProcess;
  let auth: { authorization: string };
  const base = () => `127.0.0.1:${edge.port}`;

  beforeAll(async () => {
    redis = await startTestRedis();
    dir = mkdtempSync(join(tmpdir(), 'vision-classify-'));
    const file = join(dir, 'models.json');
    writeFileSync(
      file,
      JSON.stringify({
        default: 'colors',
        models: [
          { id: 'colors', path: join(modelsDir(), 'colors-v8-dyn.onnx') },
          { id: 'gate-check', path: join(modelsDir(), 'colors-cls-dyn.onnx'), classifyTopK: 2 },
        ],
      }),
    );
    const common = { REDIS_URL: redis.url, REDIS_PREFIX: uniquePrefix('classify'), MODELS_FILE: file };
    worker = await startService('worker', common);
    edge = await startService('edge', { ...common, AUTH_DISABLED: '', JWT_SECRET: TEST_JWT_SECRET });
    auth = { authorization: `Bearer ${await signTestToken()}` };
  });

  afterAll(async () => {
    await Promise.all([edge, worker].map((p) => p?.kill('SIGKILL')));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is listed with its task, layout, input and classes', async () => {
    const body = (await (await fetch(`http://${base()}/v1/models`, { headers: auth })).json()) as {
      models: Record<string, unknown>[];
    };
    expect(body.models[0]).toMatchObject({ name: 'colors', task: 'detect', layout: 'v8' });
    expect(body.models[1]).toMatchObject({
      name: 'gate-check',
      ready: true,
      task: 'classify',
      layout: 'classify',
      inputs: [{ shape: [-1, 3, 224, 224] }],
      classes: [...CLASSIFIER_CLASSES],
    });
  });

  it('answers a yolo.v1 client the top classes, and the detector beside it its boxes only', async () => {
    const c = new TestClient(`ws://${base()}/ws/detect?model=gate-check`, PROTOCOL_V1, { headers: auth });
    await c.waitFor(1);
    c.send(JSON.stringify({ type: 'model', model: 'colors', streamId: 'yard' }));
    await c.waitFor(2);
    const image = await scene();
    c.send(encodeFrame({ frameId: 1, streamId: 'gate' }, image));
    c.send(encodeFrame({ frameId: 2, streamId: 'yard' }, image));
    const replies = ((await c.waitFor(4, 20_000)).slice(2) as ResultReply[]).sort((a, b) => a.frameId - b.frameId);
    const [gate, yard] = replies;
    expect(gate).toMatchObject({ type: 'result', frameId: 1, model: 'gate-check', detections: [] });
    const want = expectedTop(2);
    expect(gate.classifications!.map((k) => [k.class, k.name])).toEqual(want.map((k) => [k.class, k.name]));
    gate.classifications!.forEach((k, i) =>
      expect(Math.abs(k.confidence - want[i].confidence)).toBeLessThanOrEqual(1e-4),
    );
    expect(yard).toMatchObject({ type: 'result', frameId: 2, model: 'colors' });
    expect(yard.detections.length).toBeGreaterThan(0);
    expect(yard).not.toHaveProperty('classifications');
    c.ws.close();
  });

  it('answers a seed client its plain box list: empty for a classifier', async () => {
    const c = new TestClient(`ws://${base()}/ws/detect?model=gate-check`, undefined, { headers: auth });
    await c.opened;
    c.send(await scene());
    expect(await c.waitFor(1, 20_000)).toEqual([[]]);
    c.ws.close();
  });
});
