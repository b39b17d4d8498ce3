import { munkres } from 'munkres';
import type { DetRow, ResultsEntry } from '@vision/results-stream';
import { iou, type Box } from '../src';

/** Seeded PRNG (mulberry32), so every run sees the same scene. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Visibility = 'clear' | 'partial' | 'hidden';

/** A ground-truth object: where its box is at `s` seconds, or undefined while outside the frame. */
export interface GtObject {
  id: number;
  cls: number;
  box(s: number): Box | undefined;
  visibility?(s: number): Visibility;
}

export const NAMES = { 0: 'person', 1: 'car' };
export const W = 1280;
export const H = 720;

/** A box of `w`x`h` whose bottom-centre moves linearly from `a` to `b` between `s0` and `s1` seconds. */
export function walker(
  id: number,
  cls: number,
  w: number,
  h: number,
  a: [number, number],
  b: [number, number],
  s0: number,
  s1: number,
  visibility?: GtObject['visibility'],
): GtObject {
  return {
    id,
    cls,
    visibility,
    box(s) {
      if (s < s0 || s > s1) return undefined;
      const f = (s - s0) / (s1 - s0);
      const x = a[0] + (b[0] - a[0]) * f;
      const y = a[1] + (b[1] - a[1]) * f;
      return clip([x - w / 2, y - h, x + w / 2, y]);
    },
  };
}

/** The box as a detector would see it: cut at the frame edges, and gone once nothing of it is inside. */
function clip(b: Box): Box | undefined {
  const c: Box = [Math.max(0, b[0]), Math.max(0, b[1]), Math.min(W, b[2]), Math.min(H, b[3])];
  return c[2] - c[0] < 4 || c[3] - c[1] < 4 ? undefined : c;
}

export interface SceneOptions {
  camera: string;
  fps: number;
  seconds: number;
  objects: GtObject[];
  seed: number;
  /** Share of frames never delivered (lost between camera and worker). */
  dropRate?: number;
  /** Pixel noise on each coordinate. */
  noisePx?: number;
  /** Random low-score clutter and, rarely, a one-frame high-score false positive. */
  clutter?: boolean;
  t0?: number;
}

export interface Scene {
  /** Every delivered frame in capture order. */
  entries: ResultsEntry[];
  /** Per frame id: the visible objects' true boxes. */
  truth: Map<number, { id: number; box: Box }[]>;
}

export function makeScene(o: SceneOptions): Scene {
  const rand = rng(o.seed);
  const gauss = () => (rand() + rand() + rand() - 1.5) * 2;
  const t0 = o.t0 ?? 1_700_000_000_000;
  const entries: ResultsEntry[] = [];
  const truth = new Map<number, { id: number; box: Box }[]>();
  const frames = Math.round(o.seconds * o.fps);
  for (let i = 0; i < frames; i++) {
    const s = i / o.fps;
    const dets: DetRow[] = [];
    const visible: { id: number; box: Box }[] = [];
    for (const obj of o.objects) {
      const b = obj.box(s);
      if (!b) continue;
      const vis = obj.visibility?.(s) ?? 'clear';
      if (vis === 'hidden') continue;
      visible.push({ id: obj.id, box: b });
      const n = o.noisePx ?? 1.5;
      const score = vis === 'partial' ? 0.12 + rand() * 0.1 : 0.6 + rand() * 0.35;
      dets.push(
        [b[0] + gauss() * n, b[1] + gauss() * n, b[2] + gauss() * n, b[3] + gauss() * n, score, obj.cls].map((v, k) =>
          k < 4 ? Math.max(0, v) : v,
        ) as DetRow,
      );
    }
    if (o.clutter) {
      if (rand() < 0.3) {
        const x = rand() * (W - 60);
        const y = rand() * (H - 100);
        dets.push([x, y, x + 40 + rand() * 20, y + 60 + rand() * 40, 0.1 + rand() * 0.12, rand() < 0.5 ? 0 : 1]);
      }
      if (rand() < 0.02) {
        const x = rand() * (W - 60);
        const y = rand() * (H - 100);
        dets.push([x, y, x + 50, y + 90, 0.3 + rand() * 0.2, 0]);
      }
    }
    if (rand() < (o.dropRate ?? 0)) continue;
    const frame = i + 1;
    truth.set(frame, visible);
    entries.push({
      camera: o.camera,
      frame,
      ts: t0 + Math.round((1000 * i) / o.fps),
      model: 'synthetic',
      w: W,
      h: H,
      conf: 0.25,
      dets,
      names: NAMES,
    });
  }
  return { entries, truth };
}

/**
 * Arrival order at the events service: each frame is answered `latency` plus up to `jitterMs`
 * after capture (frames of one batch overtake each other), and a share is delivered twice (a
 * re-run after a worker died).
 */
export function deliver(
  entries: ResultsEntry[],
  opts: { seed: number; jitterMs: number; dupRate: number; latencyMs?: number },
): { entry: ResultsEntry; at: number }[] {
  const rand = rng(opts.seed);
  const out: { entry: ResultsEntry; at: number }[] = [];
  for (const e of entries) {
    const at = e.ts + (opts.latencyMs ?? 50) + rand() * opts.jitterMs;
    out.push({ entry: e, at });
    if (rand() < opts.dupRate) out.push({ entry: e, at: at + rand() * opts.jitterMs });
  }
  return out.sort((a, b) => a.at - b.at);
}

export interface MotResult {
  mota: number;
  idSwitches: number;
  misses: number;
  falsePositives: number;
  truths: number;
}

/**
 * CLEAR MOT over the frames the tracker saw: per frame, truth and confirmed tracks are matched by
 * IoU >= 0.5 (Hungarian); an object matched to another track id than last time is an id switch.
 */
export function clearMot(
  truth: Map<number, { id: number; box: Box }[]>,
  tracked: Map<number, { id: number; box: Box }[]>,
): MotResult {
  let misses = 0;
  let fps = 0;
  let sw = 0;
  let truths = 0;
  const lastId = new Map<number, number>();
  for (const [frame, gts] of truth) {
    const hyps = tracked.get(frame);
    if (!hyps) continue; // a frame the tracker never saw (dropped) is not scored
    truths += gts.length;
    const pairs: [number, number][] = [];
    if (gts.length && hyps.length) {
      const cost = gts.map((g) => hyps.map((h) => (iou(g.box, h.box) >= 0.5 ? 1 - iou(g.box, h.box) : 10)));
      for (const [r, c] of munkres(cost)) if (cost[r][c] < 10) pairs.push([r, c]);
    }
    misses += gts.length - pairs.length;
    fps += hyps.length - pairs.length;
    for (const [r, c] of pairs) {
      const prev = lastId.get(gts[r].id);
      if (prev !== undefined && prev !== hyps[c].id) sw++;
      lastId.set(gts[r].id, hyps[c].id);
    }
  }
  return { mota: 1 - (misses + fps + sw) / truths, idSwitches: sw, misses, falsePositives: fps, truths };
}
