import { describe, expect, it } from 'vitest';
import { Candidates, nonMaxSuppression } from '../src';
import { seededRandom } from '@vision/testing';

interface Box {
  i: number;
  b: [number, number, number, number];
  s: number;
  c: number;
}

function iou(a: Box['b'], b: Box['b']): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  const area = (x: Box['b']) => (x[2] - x[0]) * (x[3] - x[1]);
  return inter / (area(a) + area(b) - inter);
}

/** The textbook definition: best first, keep a box unless a kept box of its class overlaps it too much. */
function referenceNms(boxes: Box[], thr: number, maxDet: number): number[] {
  const sorted = [...boxes].sort((a, b) => b.s - a.s || a.i - b.i);
  const kept: Box[] = [];
  for (const cand of sorted) {
    if (kept.length >= maxDet) break;
    if (kept.every((k) => k.c !== cand.c || iou(k.b, cand.b) <= thr)) kept.push(cand);
  }
  return kept.map((k) => k.i);
}

describe('nonMaxSuppression', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('matches the brute-force reference on random boxes (seed %i)', (seed) => {
    const rand = seededRandom(seed);
    const n = 50 + Math.floor(rand() * 400);
    const boxes: Box[] = [];
    const c = new Candidates();
    c.reset(n);
    for (let i = 0; i < n; i++) {
      // Clustered boxes so plenty of them overlap.
      const x = Math.floor(rand() * 8) * 40 + rand() * 20;
      const y = Math.floor(rand() * 8) * 40 + rand() * 20;
      const w = 10 + rand() * 60;
      const h = 10 + rand() * 60;
      const b: Box['b'] = [Math.fround(x), Math.fround(y), Math.fround(x + w), Math.fround(y + h)];
      const box: Box = { i, b, s: Math.fround(rand()), c: Math.floor(rand() * 3) };
      boxes.push(box);
      c.push(...b, box.s, box.c);
    }
    const thr = 0.3 + rand() * 0.4;
    const maxDet = seed % 2 ? 300 : 20;
    const got = Array.from(nonMaxSuppression(c, { iouThreshold: thr, maxDetections: maxDet, maxCandidates: 30000 }));
    expect(got).toEqual(referenceNms(boxes, thr, maxDet));
    expect(got.length).toBeGreaterThan(0);
  });

  it('only considers the best maxCandidates boxes', () => {
    const c = new Candidates();
    c.reset(3);
    c.push(0, 0, 1, 1, 0.5, 0);
    c.push(5, 5, 6, 6, 0.9, 0);
    c.push(9, 9, 10, 10, 0.1, 0);
    expect(Array.from(nonMaxSuppression(c, { iouThreshold: 0.5, maxDetections: 10, maxCandidates: 2 }))).toEqual([
      1, 0,
    ]);
  });
});
