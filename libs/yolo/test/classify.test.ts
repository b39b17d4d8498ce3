import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@vision/config';
import type { Classification, VisionError } from '@vision/wire';
import {
  CLASSIFIER_BIAS,
  CLASSIFIER_CLASSES,
  CLASSIFIER_WEIGHTS,
  COLORS,
  drawScene,
  GraphBuilder,
  imageFixturesDir,
  modelsDir,
  type Rect,
  type Rgb,
  type SceneSpec,
} from '@vision/testing';
import {
  centreCropFit,
  MODEL_TASK_NAMES,
  MODEL_TASKS,
  modelOptionsFrom,
  modelTask,
  silentLogger,
  YoloModel,
  type YoloModelOptions,
} from '../src';

const defaults = loadConfig({});
const models: YoloModel[] = [];
afterAll(() => Promise.all(models.map((m) => m.dispose())));
/** A fixture by name, or a file by path. */
async function load(name: string, extra: Partial<YoloModelOptions> = {}): Promise<YoloModel> {
  const modelPath = name.endsWith('.onnx') ? name : join(modelsDir(), `${name}.onnx`);
  const m = await YoloModel.load({
    ...modelOptionsFrom(defaults, { modelPath, logger: silentLogger }),
    fit: undefined,
    ...extra,
  });
  models.push(m);
  return m;
}

async function classify(model: YoloModel, images: Buffer[]): Promise<Classification[][]> {
  return (await model.detect(images)).map((o) => {
    if (!o.ok) throw new Error(`frame failed: ${o.error.code} ${o.error.message}`);
    expect(o.value.detections).toEqual([]);
    return o.value.classifications ?? [];
  });
}

// The reference: its own crop rule (torchvision Resize(int) + CenterCrop, Python's round), its own
// rasteriser of the scene, its own softmax and ordering, so it shares nothing with the product.
const pythonRound = (x: number) => (x - Math.floor(x) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x));
const BLACK: Rgb = [0, 0, 0];

function colourAt(scene: SceneSpec, x: number, y: number): Rgb {
  let c: Rgb = scene.background ?? COLORS.white;
  for (const r of scene.rects ?? []) if (x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h) c = r.color;
  return c;
}

/** Mean colour (0..1) of the scene over the window a 224 centre crop keeps, in original pixels. */
function croppedMean(scene: SceneSpec, size = 224): [number, number, number] {
  const scale = size / Math.min(scene.width, scene.height);
  const resizedW = scene.width <= scene.height ? size : Math.floor(scene.width * scale);
  const resizedH = scene.width <= scene.height ? Math.floor(scene.height * scale) : size;
  const left = pythonRound((resizedW - size) / 2) / scale;
  const top = pythonRound((resizedH - size) / 2) / scale;
  const sum = [0, 0, 0];
  let n = 0;
  for (let y = Math.round(top); y < Math.round(top + size / scale); y++) {
    for (let x = Math.round(left); x < Math.round(left + size / scale); x++) {
      colourAt(scene, x, y).forEach((v, i) => (sum[i] += v / 255));
      n++;
    }
  }
  return sum.map((v) => v / n) as [number, number, number];
}

function expectedTop(mean: [number, number, number], k: number): Classification[] {
  const logits = CLASSIFIER_WEIGHTS.map(
    (w, i) => w[0] * mean[0] + w[1] * mean[1] + w[2] * mean[2] + CLASSIFIER_BIAS[i],
  );
  const exp = logits.map((l) => Math.exp(l));
  const total = exp.reduce((a, b) => a + b, 0);
  return exp
    .map((e, i) => ({ class: i, name: CLASSIFIER_CLASSES[i] as string, confidence: e / total }))
    .sort((a, b) => b.confidence - a.confidence || a.class - b.class)
    .slice(0, k);
}

function expectClasses(got: Classification[], want: Classification[], tolerance: number, label: string): void {
  expect(
    got.map((c) => c.name),
    label,
  ).toEqual(want.map((c) => c.name));
  got.forEach((c, i) => {
    expect(c.class, label).toBe(want[i].class);
    expect(Math.abs(c.confidence - want[i].confidence), `${label} ${c.name}`).toBeLessThanOrEqual(tolerance);
  });
}

const rect = (x: number, y: number, w: number, h: number, color: Rgb): Rect => ({ x, y, w, h, color });
/**
 * Shorter side already 224, so no resampling: the crop alone decides the answer. The odd margins
 * (177 and 77 px) put the crop at x 88 and y 38 only with Python's round-half-to-even, and each
 * side's margin has its own colour, so a crop one pixel off changes the scores.
 */
const EXACT: Record<string, SceneSpec> = {
  landscape: {
    width: 401,
    height: 224,
    rects: [rect(0, 0, 88, 224, COLORS.red), rect(88, 0, 90, 224, COLORS.green), rect(312, 0, 89, 224, BLACK)],
    background: COLORS.blue,
  },
  portrait: {
    width: 224,
    height: 301,
    rects: [rect(0, 0, 224, 38, BLACK), rect(0, 38, 60, 224, COLORS.red), rect(0, 262, 224, 39, COLORS.green)],
    background: COLORS.grey,
  },
  square: { width: 224, height: 224, rects: [rect(0, 0, 150, 224, COLORS.blue)], background: COLORS.red },
};
/** Half size and 2:1: the crop keeps original x 224..672, of which 176 px blue and 272 px green. */
const SCALED: SceneSpec = {
  width: 896,
  height: 448,
  rects: [rect(0, 0, 224, 448, COLORS.red), rect(224, 0, 176, 448, COLORS.blue), rect(400, 0, 272, 448, COLORS.green)],
  background: COLORS.red,
};

describe('classify: Ultralytics classification exports', () => {
  let exact: Buffer[];
  let scaled: Buffer;
  beforeAll(async () => {
    exact = await Promise.all(Object.values(EXACT).map((s) => drawScene({ ...s, format: 'png' })));
    scaled = await drawScene({ ...SCALED, format: 'png' });
  });

  it.each(['colors-cls-dyn', 'colors-cls-b1'])('%s: learns task, layout, size and names', async (name) => {
    const model = await load(name);
    expect(model.description).toMatchObject({
      task: 'classify',
      layout: 'classify',
      inputWidth: 224,
      inputHeight: 224,
      names: [...CLASSIFIER_CLASSES],
      servingGraph: true,
    });
  });

  for (const servingGraph of [true, false]) {
    it(`answers the reference's top classes, centre crop exact (serving graph ${servingGraph})`, async () => {
      const model = await load('colors-cls-dyn', { servingGraph, classifyTopK: 3 });
      const got = await classify(model, [...exact, scaled]);
      Object.entries(EXACT).forEach(([label, scene], i) =>
        expectClasses(got[i], expectedTop(croppedMean(scene), 3), 1e-4, label),
      );
      // Resampling blends a pixel or two at each colour edge: close, not exact.
      expectClasses(got[3], expectedTop(croppedMean(SCALED), 3), 0.01, 'scaled');
      expect(got[3].map((c) => c.name)).toEqual(['green', 'dark', 'blue']);
    });
  }

  it('gives the same classes through the serving graph as the export as it is, on photos too', async () => {
    const photos = ['chelsea-640x480.jpg', 'coffee-1280x720.jpg', 'astronaut-640x480.jpg', 'rocket-1280x720.jpg'].map(
      (f) => readFileSync(join(imageFixturesDir(), f)),
    );
    const frames = [...photos, ...exact, scaled];
    for (const name of ['colors-cls-dyn', 'colors-cls-b1']) {
      const [asIs, serving] = await Promise.all([
        load(name, { servingGraph: false, classifyTopK: 4 }),
        load(name, { servingGraph: true, classifyTopK: 4 }),
      ]);
      const [a, b] = await Promise.all([classify(asIs, frames), classify(serving, frames)]);
      a.forEach((want, i) => {
        expect(want, `${name} frame ${i}`).toHaveLength(4);
        expectClasses(b[i], want, 1e-4, `${name} frame ${i}`);
      });
    }
  });

  it('answers CLASSIFY_TOP_K classes, at most the class count', async () => {
    for (const servingGraph of [true, false]) {
      const [two] = await classify(await load('colors-cls-dyn', { servingGraph, classifyTopK: 2 }), [scaled]);
      expect(two.map((c) => c.name)).toEqual(['green', 'dark']);
      const [all] = await classify(await load('colors-cls-dyn', { servingGraph, classifyTopK: 1000 }), [scaled]);
      expect(all.map((c) => c.name)).toEqual(['green', 'dark', 'blue', 'red']);
    }
  });
});

describe('centreCropFit (Ultralytics classify_transforms geometry)', () => {
  it('resizes the shorter side, truncates the longer, crops the centre rounding half to even', () => {
    expect(centreCropFit(640, 480, 224, 224)).toMatchObject({
      resize: { width: 298, height: 224 },
      crop: { left: 37, top: 0, width: 224, height: 224 },
    });
    expect(centreCropFit(401, 224, 224, 224).crop).toEqual({ left: 88, top: 0, width: 224, height: 224 });
    expect(centreCropFit(224, 301, 224, 224).crop).toEqual({ left: 0, top: 38, width: 224, height: 224 });
    expect(centreCropFit(100, 100, 224, 224)).toMatchObject({ resize: { width: 224, height: 224 } });
  });

  it('stretches to a non-square input without a crop (Resize((h, w)))', () => {
    const fit = centreCropFit(640, 480, 320, 192);
    expect(fit.resize).toEqual({ width: 320, height: 192 });
    expect(fit.crop).toBeUndefined();
    expect(fit.geometry).toMatchObject({ resizedWidth: 320, resizedHeight: 192, padLeft: 0, padTop: 0 });
  });
});

describe('the model-task registry', () => {
  it('registers each task under its own metadata name, and refuses an unknown one naming `task`', () => {
    for (const [name, task] of Object.entries(MODEL_TASKS)) expect(task.name).toBe(name);
    expect(MODEL_TASK_NAMES).toEqual(['detect', 'classify']);
    expect(modelTask(undefined).name).toBe('detect');
    expect(() => modelTask('pose')).toThrow(
      expect.objectContaining({ code: 'E_MODEL_INVALID', message: expect.stringMatching(/^metadata task: 'pose'/) }),
    );
    // An inherited property is no task either.
    expect(() => modelTask('toString')).toThrow(expect.objectContaining({ code: 'E_MODEL_INVALID' }));
  });

  it('refuses a malformed classifier at load, naming the metadata field or the output shape', async () => {
    const refused = (file: string) =>
      load(file).then(
        () => undefined,
        (err: VisionError) => err,
      );
    const names = await refused(fixture([1, 4], { task: 'classify', names: "{0: 'a', 1: 'b'}" }));
    expect(names).toMatchObject({ code: 'E_MODEL_INVALID', message: expect.stringMatching(/^metadata names: 2 /) });
    const imgsz = await refused(fixture([1, 4], { task: 'classify', imgsz: "'big'" }));
    expect(imgsz).toMatchObject({ code: 'E_MODEL_INVALID', message: expect.stringMatching(/^metadata imgsz: /) });
    const shape = await refused(fixture([1, 4, 2], { task: 'classify' }));
    expect(shape).toMatchObject({ code: 'E_MODEL_LAYOUT', message: expect.stringContaining('[1, 4, 2]') });
  });
});

/** A file with a [1, 3, 8, 8] input and an output of `shape` (a constant): enough to be planned at load. */
function fixture(shape: number[], metadata: Record<string, string>): string {
  const g = new GraphBuilder('malformed');
  g.input('images', [1, 3, 8, 8]);
  const size = shape.reduce((a, b) => a * b, 1);
  g.rename(g.op1('Identity', [g.constFloat('out', shape, new Array<number>(size).fill(0.25))]), 'output0');
  g.output('output0', shape);
  const file = join(mkdtempSync(join(tmpdir(), 'vision-cls-')), `${shape.join('x')}.onnx`);
  writeFileSync(file, g.encode(metadata));
  return file;
}
