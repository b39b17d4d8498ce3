import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@vision/config';
import {
  batchLadder,
  modelOptionsFrom,
  runSize,
  silentLogger,
  YoloModel,
  type FrameDetections,
  type FrameOutcome,
  type YoloModelOptions,
} from '../src';
import type { Detection } from '@vision/wire';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { COLORS, drawScene, GraphBuilder, modelsDir, V5_OBJECTNESS, sleep } from '@vision/testing';

const modelPath = (name: string) => join(modelsDir(), `${name}.onnx`);
const defaults = loadConfig({});
/** A model at the default settings, as a worker loads it, with a test's own overrides. */
const load = (path: string, extra: Partial<YoloModelOptions> = {}) =>
  YoloModel.load({
    ...modelOptionsFrom(defaults, { modelPath: path, logger: silentLogger }),
    maxBatch: 8,
    fit: undefined,
    ...extra,
  });

/** Detections of a frame that must have succeeded, boxes rounded to whole pixels for comparison. */
/** What a client gets for a frame that must have succeeded: the detections above the confidence threshold. */
function ok(outcome: FrameOutcome<FrameDetections>): Detection[] {
  if (!outcome.ok) throw new Error(`frame failed: ${outcome.error.code} ${outcome.error.message}`);
  return outcome.value.detections.slice(0, outcome.value.high);
}

function expectBox(d: Detection, box: [number, number, number, number], tolerance = 1) {
  const got = [d.xmin, d.ymin, d.xmax, d.ymax];
  got.forEach((v, i) =>
    expect(Math.abs(v - box[i]), `coordinate ${i} of ${JSON.stringify(d)}`).toBeLessThanOrEqual(tolerance),
  );
}

// Each scene puts a coloured square exactly on one 32-px cell of the 640×640 letterboxed input,
// so the fixture detector must return that square, mapped back to original pixels.
const scenes = {
  // 1280×720: ratio 0.5, 140 px padding top. Cell (10, 8) → x 640..704, y 232..296.
  landscapeJpeg: () =>
    drawScene({
      width: 1280,
      height: 720,
      format: 'jpeg',
      rects: [{ x: 640, y: 232, w: 64, h: 64, color: COLORS.red }],
    }),
  // 810×1080: ratio 0.5926 (1/1.6875), 80 px padding left. Cell (5, 10) → x 135..189, y 540..594.
  portraitPng: () =>
    drawScene({
      width: 810,
      height: 1080,
      format: 'png',
      rects: [{ x: 135, y: 540, w: 54, h: 54, color: COLORS.green }],
    }),
  // 37×1000: ratio 0.64, content is 24 px wide at x 308..332, so the two cells it touches (columns 9
  // and 10) are each 12/32 blue: score 0.375. Row 10 → y 500..550.
  stripWebp: () =>
    drawScene({
      width: 37,
      height: 1000,
      format: 'webp',
      quality: 100,
      rects: [{ x: 0, y: 500, w: 37, h: 50, color: COLORS.blue }],
    }),
  // Stored 480×640 with EXIF orientation 6: displayed 640×480, ratio 1, 80 px padding top.
  // Cell (12, 6) → x 384..416, y 112..144 in display coordinates.
  exifJpeg: () =>
    drawScene({
      width: 640,
      height: 480,
      format: 'jpeg',
      exifOrientation: 6,
      rects: [{ x: 384, y: 112, w: 32, h: 32, color: COLORS.red }],
    }),
};

describe('YoloModel with the fixture detector', () => {
  let images: Record<keyof typeof scenes, Buffer>;
  beforeAll(async () => {
    images = Object.fromEntries(
      await Promise.all(Object.entries(scenes).map(async ([k, f]) => [k, await f()] as const)),
    ) as typeof images;
  });

  it('learns input, layout, batch and names from the file', async () => {
    const model = await load(modelPath('colors-v8-dyn'));
    expect(model.description).toMatchObject({
      inputName: 'images',
      outputName: 'output0',
      inputWidth: 640,
      inputHeight: 640,
      batch: 'dynamic',
      layout: 'v8',
      names: ['red', 'green', 'blue'],
      task: 'detect',
      stride: 32,
      provider: 'cpu',
    });
    const rect = await load(modelPath('colors-v8-rect'));
    expect([rect.description.inputWidth, rect.description.inputHeight]).toEqual([640, 384]);
    expect((await load(modelPath('colors-v8-b4'))).description.batch).toBe(4);
    expect((await load(modelPath('colors-v5-b1'))).description.layout).toBe('v5');
    expect((await load(modelPath('colors-e2e-dyn'))).description.layout).toBe('end2end');
  });

  it('finds squares at exact places in JPEG / PNG / WebP images of odd sizes, EXIF applied', async () => {
    const model = await load(modelPath('colors-v8-dyn'));
    const [landscape, portrait, strip, exif] = (
      await model.detect([images.landscapeJpeg, images.portraitPng, images.stripWebp, images.exifJpeg])
    ).map(ok);

    expect(landscape).toHaveLength(1);
    expect(landscape[0]).toMatchObject({ class: 0, name: 'red' });
    expect(landscape[0].confidence).toBeGreaterThan(0.95);
    expectBox(landscape[0], [640, 232, 704, 296]);

    expect(portrait).toHaveLength(1);
    expect(portrait[0]).toMatchObject({ class: 1, name: 'green' });
    expect(portrait[0].confidence).toBeGreaterThan(0.95);
    expectBox(portrait[0], [135, 540, 189, 594]);

    expect(strip.map((d) => d.name)).toEqual(['blue', 'blue']);
    strip.forEach((d) => expect(d.confidence).toBeCloseTo(0.375, 2));
    const byX = [...strip].sort((a, b) => a.xmin - b.xmin);
    expectBox(byX[0], [0, 500, 18.75, 550], 0.5);
    expectBox(byX[1], [18.75, 500, 37, 550], 0.5);

    expect(exif).toHaveLength(1);
    expect(exif[0].name).toBe('red');
    expectBox(exif[0], [384, 112, 416, 144]);
  });

  it('gives the same boxes for every layout and batch shape (dynamic, static 1, static 4 padded)', async () => {
    const batch = [images.landscapeJpeg, images.portraitPng, images.stripWebp, images.exifJpeg, images.landscapeJpeg];
    const reference = (await (await load(modelPath('colors-v8-dyn'))).detect(batch)).map(ok);
    for (const name of ['colors-v8-b1', 'colors-v8-b4', 'colors-e2e-dyn', 'colors-e2e-b1']) {
      const got = (await (await load(modelPath(name))).detect(batch)).map(ok);
      const sortKey = (ds: Detection[]) => [...ds].sort((a, b) => a.xmin - b.xmin || a.ymin - b.ymin);
      expect(got.map(sortKey), name).toEqual(reference.map(sortKey));
    }
    // YOLOv5: objectness (0.8 in the fixture) multiplies the class score.
    const v5 = (await (await load(modelPath('colors-v5-b1'))).detect(batch)).map(ok);
    expect(v5[1][0].confidence / reference[1][0].confidence).toBeCloseTo(V5_OBJECTNESS, 3);
    expectBox(v5[1][0], [135, 540, 189, 594]);
    expect(v5[2].map((d) => d.confidence)).toEqual([0.3, 0.3].map((c) => expect.closeTo(c, 2)));
  });

  it('pads a dynamic model up to its batch sizes and splits runs past the largest, boxes unchanged', async () => {
    const batch = [images.landscapeJpeg, images.portraitPng, images.stripWebp, images.exifJpeg, images.landscapeJpeg];
    const exact = await load(modelPath('colors-v8-dyn'));
    const reference = (await exact.detect(batch)).map(ok);
    for (const [sizes, firstRun] of [
      [[4, 8], 8],
      [[2, 3], 3],
      [[1], 1],
    ] as const) {
      const model = await load(modelPath('colors-v8-dyn'), { batchSizes: sizes });
      const decoded = await Promise.all(batch.map((f) => model.decode(f)));
      const result = await model.infer(decoded);
      expect(result.runBatchSize, `sizes ${sizes.join(',')}`).toBe(firstRun);
      // Padding slots are zeros from a fresh fill each run: no boxes leak from an earlier, larger run.
      expect(
        result.frames.map((f) => f.detections),
        `sizes ${sizes.join(',')}`,
      ).toEqual(reference);
      expect((await model.infer(decoded.slice(0, 1))).frames.map((f) => f.detections)).toEqual(reference.slice(0, 1));
      await model.dispose();
    }
    await exact.dispose();
  });

  it('runs inference at the nice value asked for: the engine thread and the ORT pool threads it creates', async () => {
    const niceOfThreads = () =>
      readdirSync('/proc/self/task').map((t) => {
        const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      });
    const before = niceOfThreads().filter((n) => n === 10).length;
    const model = await load(modelPath('colors-v8-dyn'), { intraOpThreads: 2, nice: 10 });
    const after = niceOfThreads();
    // One engine thread and at least one pool thread; the event loop's thread is untouched.
    expect(after.filter((n) => n === 10).length - before).toBeGreaterThanOrEqual(2);
    expect(after[0]).toBe(0);
    expect((await model.detect([images.portraitPng])).map(ok)[0]).toHaveLength(1);
    await model.dispose();
  });

  it('runs a lone frame on the wide spinning session when every engine idles, with the same boxes', async () => {
    const model = await load(modelPath('colors-v8-dyn'), {
      allowSpinning: false,
      spinSingleFrames: true,
      spinAfterIdleMs: 200,
      engines: 2,
      intraOpThreads: 1,
    });
    const frames = await Promise.all([images.landscapeJpeg, images.portraitPng].map((f) => model.decode(f)));
    await sleep(250);
    const single = await model.infer(frames.slice(1));
    // Straight after a run (the engine busy, as under load): the non-spinning session.
    const next = await model.infer(frames.slice(1));
    const pair = await model.infer(frames);
    expect([single.runBatchSize, next.runBatchSize, pair.runBatchSize]).toEqual([1, 1, 2]);
    expect([single.spun, next.spun, pair.spun]).toEqual([true, false, false]);
    expect(single.frames[0]).toEqual(pair.frames[1]);
    expect(next.frames[0]).toEqual(single.frames[0]);
    expect(pair.frames.map((d) => d.detections.map((x) => x.name))).toEqual([['red'], ['green']]);
    // Idle long enough again, but one engine busy: the lone frame takes the other engine, not the wide session.
    await sleep(250);
    const [busy, beside] = await Promise.all([model.infer(frames), model.infer(frames.slice(1))]);
    expect([busy.spun, beside.spun]).toEqual([false, false]);
    expect(beside.frames[0]).toEqual(single.frames[0]);
    await model.dispose();
  });

  it('ladders powers of two up to maxBatch, and runs each batch at the smallest size that holds it', () => {
    expect(batchLadder(32)).toEqual([1, 2, 4, 8, 16, 32]);
    expect(batchLadder(12)).toEqual([1, 2, 4, 8, 12]);
    expect(batchLadder(1)).toEqual([1]);
    expect([1, 5, 9, 40].map((n) => runSize(n, 'dynamic', batchLadder(32)))).toEqual([1, 8, 16, 32]);
    expect(runSize(3, 'dynamic', [])).toBe(3);
    expect(runSize(3, 4, [8])).toBe(4);
  });

  it('runs a dynamic-batch model in one session.run and static-batch models in groups', async () => {
    const frames = [images.portraitPng, images.portraitPng, images.portraitPng, images.portraitPng, images.portraitPng];
    for (const [name, expected] of [
      ['colors-v8-dyn', 5],
      ['colors-v8-b4', 4],
      ['colors-v8-b1', 1],
    ] as const) {
      const model = await load(modelPath(name));
      const result = await model.infer(await Promise.all(frames.map((f) => model.decode(f))));
      expect(result.runBatchSize, name).toBe(expected);
      expect(result.frames.map((d) => d.detections.length)).toEqual([1, 1, 1, 1, 1]);
    }
  });

  it('applies thresholds, the names override and the class_<i> fallback', async () => {
    const strict = await load(modelPath('colors-v8-dyn'), { confThreshold: 0.5 });
    expect(ok((await strict.detect([images.stripWebp]))[0])).toEqual([]);
    const renamed = await load(modelPath('colors-v8-dyn'), { names: ['rouge', 'vert', 'bleu'] });
    expect(ok((await renamed.detect([images.portraitPng]))[0])[0].name).toBe('vert');
    const anonymous = await load(modelPath('colors-v8-nonames'));
    expect(anonymous.description.names).toEqual(['class_0', 'class_1', 'class_2']);
    expect(ok((await anonymous.detect([images.portraitPng]))[0])[0].name).toBe('class_1');
  });
});

/** A valid 1×1 PNG whose IHDR is rewritten to claim `w`×`h` (with a correct CRC). */
async function pngClaiming(w: number, h: number): Promise<Buffer> {
  const png = Buffer.from(
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#fff' } })
      .png()
      .toBuffer(),
  );
  png.writeUInt32BE(w, 16);
  png.writeUInt32BE(h, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

describe('hostile input', () => {
  it('gives each bad frame a typed error and still answers the good frames of the batch', async () => {
    const model = await load(modelPath('colors-v8-dyn'));
    const good = await scenes.portraitPng();
    const jpeg = await drawScene({ width: 300, height: 200, format: 'jpeg' });
    const bad: [string, Buffer, string][] = [
      ['empty', Buffer.alloc(0), 'E_EMPTY_FRAME'],
      ['text', Buffer.from('definitely not an image'), 'E_UNSUPPORTED_FORMAT'],
      ['truncated JPEG', jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'E_IMAGE_DECODE'],
      [
        'JPEG magic then garbage',
        Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(100, 7)]),
        'E_IMAGE_DECODE',
      ],
      ['PNG header claiming 30000×30000', await pngClaiming(30000, 30000), 'E_IMAGE_TOO_LARGE'],
    ];
    const frames = [good, ...bad.map((b) => b[1]), good];
    const out = await model.detect(frames);
    expect(ok(out[0])).toHaveLength(1);
    expect(ok(out[out.length - 1])).toHaveLength(1);
    bad.forEach(([label, , code], i) => {
      const o = out[i + 1];
      expect(o.ok, label).toBe(false);
      if (!o.ok) expect(o.error.code, label).toBe(code);
    });
  });

  it('caps decoded pixels with the configured limit', async () => {
    const model = await load(modelPath('colors-v8-dyn'), { maxInputPixels: 100 * 100 });
    const [o] = await model.detect([await drawScene({ width: 101, height: 100 })]);
    expect(o.ok ? 'ok' : o.error.code).toBe('E_IMAGE_TOO_LARGE');
  });
});

describe('inference off the event loop', () => {
  it('keeps timers running while session.run works (ORT runs in its own thread)', async () => {
    const model = await load(modelPath('yolov8n-topology-640'), { intraOpThreads: 1 });
    const frames = [
      await drawScene({ width: 640, height: 480, format: 'jpeg' }),
      await drawScene({ width: 640, height: 480, format: 'jpeg' }),
    ];
    const decoded = await Promise.all(frames.map((f) => model.decode(f)));
    let maxGap = 0;
    let ticks = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 2);
    const result = await model.infer(decoded);
    maxGap = Math.max(maxGap, performance.now() - last); // a stall the timer had no turn to see
    clearInterval(timer);
    await model.dispose();
    // On the main thread the loop would stall for the whole run: one gap as long as the run, and
    // the timer firing once after it rather than again and again during it.
    expect(ticks).toBeGreaterThanOrEqual(5);
    expect(maxGap).toBeLessThan(result.inferenceMs / 3);
  });
});

describe('model loading errors', () => {
  it('names a missing file, a non-ONNX file and a task no registered definition serves', async () => {
    await expect(load('/nonexistent/model.onnx')).rejects.toMatchObject({ code: 'E_MODEL_LOAD' });
    await expect(load(__filename)).rejects.toMatchObject({ code: 'E_MODEL_LOAD' });
    await expect(load(identityModel([1, 3, 64, 64], { task: 'segment' }))).rejects.toThrow(
      expect.objectContaining({ code: 'E_MODEL_INVALID', message: expect.stringMatching(/^metadata task: 'segment'/) }),
    );
  });

  it('refuses an output layout it does not know, naming the shape', async () => {
    await expect(load(identityModel([1, 3, 64, 64], {}))).rejects.toThrow(
      expect.objectContaining({ code: 'E_MODEL_LAYOUT', message: expect.stringContaining('[1, 3, 64, 64]') }),
    );
  });

  it('fails start-up when a requested GPU provider cannot load, unless the fallback is allowed', async () => {
    const warnings: object[] = [];
    const logger = { info: () => undefined, warn: (o: object) => warnings.push(o) };
    let strictError: unknown;
    try {
      const m = await load(modelPath('colors-v8-dyn'), { executionProvider: 'cuda', logger });
      // Only on a host with the CUDA provider installed: then it must really be CUDA.
      expect(m.description.provider).toBe('cuda');
      return;
    } catch (err) {
      strictError = err;
    }
    expect(strictError).toMatchObject({ code: 'E_PROVIDER_UNAVAILABLE' });
    expect(String((strictError as Error).message)).toContain("'cuda'");
    const fallback = await load(modelPath('colors-v8-dyn'), {
      executionProvider: 'cuda',
      allowProviderFallback: true,
      logger,
    });
    expect(fallback.description.provider).toBe('cpu');
    expect(warnings).toEqual([expect.objectContaining({ requested: 'cuda' })]);
  });
});

/** A model whose output is its input: loads in ORT, but is no detector. */
function identityModel(shape: number[], metadata: Record<string, string>): string {
  const g = new GraphBuilder('identity');
  g.output(g.rename(g.op1('Identity', [g.input('images', shape)]), 'out'), shape);
  const file = join(mkdtempSync(join(tmpdir(), 'vision-model-')), 'identity.onnx');
  writeFileSync(file, g.encode(metadata));
  return file;
}
