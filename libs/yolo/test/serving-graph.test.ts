import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@vision/config';
import type { Detection } from '@vision/wire';
import { COLORS, drawScene, imageFixturesDir, modelsDir, type Rect } from '@vision/testing';
import { modelOptionsFrom, silentLogger, YoloModel, type YoloModelOptions } from '../src';

const defaults = loadConfig({});
const load = (name: string, extra: Partial<YoloModelOptions>) =>
  YoloModel.load({
    ...modelOptionsFrom(defaults, { modelPath: join(modelsDir(), `${name}.onnx`), logger: silentLogger }),
    maxBatch: 4,
    fit: undefined,
    ...extra,
  });

/**
 * Every generated export family through the serving graph (uint8 in, top-K out) against the
 * export as it is (float32 in, raw output decoded on the host): the same detections, to the
 * tolerance float arithmetic on another provider allows. YOLO11 has v8's head, so the v8 fixtures
 * stand for both; the low tier is on, so candidates near the floor are compared too.
 */
const FAMILIES = [
  'colors-v8-dyn',
  'colors-v8-b1',
  'colors-v8-b4',
  'colors-v8-rect',
  'colors-v5-dyn',
  'colors-v5-b1',
  'colors-e2e-dyn',
  'colors-e2e-b1',
];

function expectSame(got: Detection[], want: Detection[], label: string): void {
  expect(got.length, label).toBe(want.length);
  got.forEach((d, i) => {
    const w = want[i];
    expect(d.class, `${label} #${i} class`).toBe(w.class);
    expect(Math.abs(d.confidence - w.confidence), `${label} #${i} score`).toBeLessThanOrEqual(1e-4);
    for (const k of ['xmin', 'ymin', 'xmax', 'ymax'] as const)
      expect(Math.abs(d[k] - w[k]), `${label} #${i} ${k}`).toBeLessThanOrEqual(0.5);
  });
}

/** A 640×640 frame with a coloured square on every 32-px cell (400 objects), each a different shade. */
async function crowd(): Promise<{ image: Buffer; objects: number }> {
  const palette = [COLORS.red, COLORS.green, COLORS.blue];
  const rects: Rect[] = [];
  for (let r = 0; r < 20; r++) {
    for (let c = 0; c < 20; c++) {
      const i = r * 20 + c;
      // Shades keep every score distinct (ties would make "the best K" ambiguous).
      const base = palette[i % 3];
      const shade = 0.45 + (0.55 * i) / 400;
      rects.push({
        x: c * 32,
        y: r * 32,
        w: 32,
        h: 32,
        color: base.map((v) => Math.round(v * shade + 114 * (1 - shade))) as [number, number, number],
      });
    }
  }
  return {
    image: await drawScene({ width: 640, height: 640, format: 'png', background: COLORS.grey, rects }),
    objects: rects.length,
  };
}

describe('the serving graph gives the detections of the export as it is', () => {
  let photos: Buffer[];
  beforeAll(async () => {
    photos = ['chelsea-640x480.jpg', 'coffee-1280x720.jpg', 'astronaut-640x480.jpg', 'rocket-1280x720.jpg'].map((f) =>
      readFileSync(join(imageFixturesDir(), f)),
    );
    photos.push((await crowd()).image);
  });

  it.each(FAMILIES)('%s, on the fixture photos and the crowd frame', async (name) => {
    const opts = { lowThreshold: 0.1, maxDetections: 1000 };
    const [asIs, serving] = await Promise.all([
      load(name, { ...opts, servingGraph: false }),
      load(name, { ...opts, servingGraph: true }),
    ]);
    try {
      expect([asIs.description.servingGraph, serving.description.servingGraph]).toEqual([false, true]);
      const [a, b] = await Promise.all([asIs.detect(photos), serving.detect(photos)]);
      let compared = 0;
      a.forEach((outcome, i) => {
        const other = b[i];
        if (!outcome.ok || !other.ok) throw new Error(`frame ${i} failed`);
        expect(other.value.high, `${name} frame ${i} high tier`).toBe(outcome.value.high);
        expectSame(other.value.detections, outcome.value.detections, `${name} frame ${i}`);
        compared += outcome.value.detections.length;
      });
      // The comparison is not vacuous: the crowd alone brings hundreds of boxes (300 for e2e's fixed K).
      expect(compared).toBeGreaterThan(250);
    } finally {
      await Promise.all([asIs.dispose(), serving.dispose()]);
    }
  });
});

describe('SERVING_TOP_K on a crowd', () => {
  const models: YoloModel[] = [];
  afterAll(() => Promise.all(models.map((m) => m.dispose())));

  it('keeps every object while K holds them all, and the best K once it does not', async () => {
    const { image, objects } = await crowd();
    const run = async (extra: Partial<YoloModelOptions>) => {
      const m = await load('colors-v8-dyn', { maxDetections: 1000, ...extra });
      models.push(m);
      const [o] = await m.detect([image]);
      if (!o.ok) throw o.error;
      return o.value.detections.slice(0, o.value.high);
    };
    const reference = await run({ servingGraph: false });
    expect(reference).toHaveLength(objects);
    for (const k of [1024, objects]) expectSame(await run({ topK: k }), reference, `K=${k}`);
    // Below the crowd's size K starts to matter: exactly the K best boxes survive.
    const few = await run({ topK: 256 });
    expect(few).toHaveLength(256);
    expectSame(few, reference.slice(0, 256), 'K=256');
  });
});
