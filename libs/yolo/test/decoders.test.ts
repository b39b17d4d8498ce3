import { describe, expect, it } from 'vitest';
import {
  Candidates,
  decodeEnd2End,
  decodeV5,
  decodeV8,
  DecoderScratch,
  letterboxGeometry,
  Postprocessor,
} from '../src';

const rows = (c: Candidates) =>
  Array.from({ length: c.count }, (_, i) =>
    [...c.boxes.subarray(i * 4, i * 4 + 4), c.scores[i], c.classes[i]].map((v) => +v.toFixed(4)),
  );

describe('decodeV8 [4+nc, N]', () => {
  // nc = 2, N = 3, row-major: cx, cy, w, h, cls0, cls1 — each over the 3 anchors.
  const out = Float32Array.from([
    10, 50, 90, /* cx */ 10, 50, 90, /* cy */ 4, 10, 20, /* w */ 4, 10, 20 /* h */, 0.9, 0.1, 0.3, /* cls0 */ 0.2, 0.6,
    0.1 /* cls1 */,
  ]);

  it('takes the best class per anchor and converts xywh to corners', () => {
    const c = new Candidates();
    decodeV8({ data: out, offset: 0, d1: 6, d2: 3 }, 0.25, c, new DecoderScratch());
    expect(rows(c)).toEqual([
      [8, 8, 12, 12, 0.9, 0],
      [45, 45, 55, 55, 0.6, 1],
      [80, 80, 100, 100, 0.3, 0],
    ]);
  });

  it('applies the threshold strictly and reads the right image of a batch', () => {
    const batch = new Float32Array(out.length * 2);
    batch.set(out, out.length);
    const c = new Candidates();
    decodeV8({ data: batch, offset: out.length, d1: 6, d2: 3 }, 0.7, c, new DecoderScratch());
    expect(rows(c)).toEqual([[8, 8, 12, 12, 0.9, 0]]);
    decodeV8({ data: batch, offset: 0, d1: 6, d2: 3 }, 0.25, c, new DecoderScratch());
    expect(c.count).toBe(0);
  });
});

describe('decodeV5 [N, 5+nc]', () => {
  it('gates on objectness, then multiplies it into the class score', () => {
    const out = Float32Array.from([
      10,
      10,
      4,
      4,
      0.9,
      0.5,
      0.1, // obj .9 × .5 = .45, class 0
      50,
      50,
      10,
      10,
      0.2,
      1.0,
      0, // objectness below threshold
      90,
      90,
      20,
      20,
      0.5,
      0.2,
      0.4, // .5 × .4 = .2 below threshold
      30,
      30,
      2,
      6,
      1.0,
      0.0,
      0.7, // class 1
    ]);
    const c = new Candidates();
    decodeV5({ data: out, offset: 0, d1: 4, d2: 7 }, 0.25, c);
    expect(rows(c)).toEqual([
      [8, 8, 12, 12, 0.45, 0],
      [29, 27, 31, 33, 0.7, 1],
    ]);
  });
});

describe('decodeEnd2End [K, 6]', () => {
  it('keeps rows above the threshold as they are', () => {
    const out = Float32Array.from([1, 2, 3, 4, 0.9, 7, 5, 6, 7, 8, 0.1, 1, 0, 0, 10, 10, 0.3, 2]);
    const c = new Candidates();
    decodeEnd2End({ data: out, offset: 0, d1: 3, d2: 6 }, 0.25, c);
    expect(rows(c)).toEqual([
      [1, 2, 3, 4, 0.9, 7],
      [0, 0, 10, 10, 0.3, 2],
    ]);
  });
});

describe('Postprocessor', () => {
  const g = letterboxGeometry(1280, 720, 640, 640); // ratio 0.5, 140 px padding top and bottom

  it('suppresses same-class overlaps, keeps other classes, maps to original pixels', () => {
    // Four anchors: two overlapping class-0 boxes, one class-1 box on top of them, one far away.
    const out = Float32Array.from([
      100, 104, 100, 400, /* cx */ 200, 200, 200, 500, /* cy */ 40, 40, 40, 20, /* w */ 40, 40, 40, 20 /* h */, 0.9,
      0.8, 0.1, 0.5, /* cls0 */ 0.0, 0.0, 0.7, 0.0 /* cls1 */,
    ]);
    const post = new Postprocessor('v8', ['cat', 'dog'], {
      confThreshold: 0.25,
      iouThreshold: 0.45,
      maxDetections: 300,
      lowThreshold: 1,
    });
    expect(post.run({ data: out, offset: 0, d1: 6, d2: 4 }, g).detections).toEqual([
      { xmin: 160, ymin: 80, xmax: 240, ymax: 160, confidence: 0.9, class: 0, name: 'cat' },
      { xmin: 160, ymin: 80, xmax: 240, ymax: 160, confidence: 0.7, class: 1, name: 'dog' },
      { xmin: 780, ymin: 700, xmax: 820, ymax: 720, confidence: 0.5, class: 0, name: 'cat' },
    ]);
  });

  it('honours maxDetections, best first', () => {
    const out = Float32Array.from([10, 300, 10, 300, 4, 4, 4, 4, 0.3, 0.9]);
    const post = new Postprocessor('v8', ['a'], {
      confThreshold: 0.25,
      iouThreshold: 0.45,
      maxDetections: 1,
      lowThreshold: 1,
    });
    const dets = post.run({ data: out, offset: 0, d1: 5, d2: 2 }, g).detections;
    expect(dets).toHaveLength(1);
    expect(dets[0].confidence).toBe(0.9);
  });

  it('does not run NMS on end2end output (the model already did)', () => {
    const out = Float32Array.from([0, 140, 100, 240, 0.9, 0, 0, 140, 100, 240, 0.8, 0]);
    const post = new Postprocessor('end2end', ['a'], {
      confThreshold: 0.25,
      iouThreshold: 0.45,
      maxDetections: 300,
      lowThreshold: 1,
    });
    expect(post.run({ data: out, offset: 0, d1: 2, d2: 6 }, g).detections).toHaveLength(2);
  });

  it('keeps the low tier after the boxes above the threshold, and NMS keeps the same high boxes with it', () => {
    // cls0 scores: 0.9 and 0.8 overlap (0.8 suppressed); 0.2 (low tier) far away; 0.05 under the floor.
    const out = Float32Array.from([
      100, 104, 400, 600, 200, 200, 500, 300, 40, 40, 20, 20, 40, 40, 20, 20, 0.9, 0.8, 0.2, 0.05,
    ]);
    const view = { data: out, offset: 0, d1: 5, d2: 4 };
    const opts = { confThreshold: 0.25, iouThreshold: 0.45, maxDetections: 300 };
    const withLow = new Postprocessor('v8', ['a'], { ...opts, lowThreshold: 0.1 }).run(view, g);
    const highOnly = new Postprocessor('v8', ['a'], { ...opts, lowThreshold: 1 }).run(view, g);
    expect(withLow.high).toBe(1);
    expect(withLow.detections.map((d) => d.confidence)).toEqual([0.9, 0.2]);
    expect(withLow.detections.slice(0, withLow.high)).toEqual(highOnly.detections);
    // end2end rows: the model's order, the high tier moved first.
    const e2e = Float32Array.from([0, 140, 10, 150, 0.2, 0, 20, 140, 30, 150, 0.9, 0, 40, 140, 50, 150, 0.05, 0]);
    const r = new Postprocessor('end2end', ['a'], { ...opts, lowThreshold: 0.1 }).run(
      { data: e2e, offset: 0, d1: 3, d2: 6 },
      g,
    );
    expect([r.high, r.detections.map((d) => d.confidence)]).toEqual([1, [0.9, 0.2]]);
  });
});
