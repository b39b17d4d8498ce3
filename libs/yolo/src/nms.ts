import type { Candidates } from './candidates';

export interface NmsOptions {
  /** Boxes of the same class overlapping more than this are suppressed. */
  iouThreshold: number;
  /** Most boxes kept. */
  maxDetections: number;
  /** Most candidates considered, best first (Ultralytics' `max_nms`). */
  maxCandidates: number;
}

/**
 * Greedy class-aware NMS. Returns indices into `c`, best score first. Ties keep input order so the
 * result is deterministic.
 */
export function nonMaxSuppression(c: Candidates, opts: NmsOptions): Int32Array {
  const n = c.count;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const scores = c.scores;
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  const m = Math.min(n, opts.maxCandidates);
  const boxes = c.boxes;
  const classes = c.classes;
  const area = new Float32Array(m);
  for (let k = 0; k < m; k++) {
    const o = order[k] * 4;
    area[k] = Math.max(0, boxes[o + 2] - boxes[o]) * Math.max(0, boxes[o + 3] - boxes[o + 1]);
  }
  const suppressed = new Uint8Array(m);
  const keep: number[] = [];
  for (let k = 0; k < m && keep.length < opts.maxDetections; k++) {
    if (suppressed[k]) continue;
    const i = order[k];
    keep.push(i);
    const o = i * 4;
    const x1 = boxes[o];
    const y1 = boxes[o + 1];
    const x2 = boxes[o + 2];
    const y2 = boxes[o + 3];
    const cls = classes[i];
    for (let q = k + 1; q < m; q++) {
      if (suppressed[q]) continue;
      const j = order[q];
      if (classes[j] !== cls) continue;
      const p = j * 4;
      const w = Math.min(x2, boxes[p + 2]) - Math.max(x1, boxes[p]);
      if (w <= 0) continue;
      const h = Math.min(y2, boxes[p + 3]) - Math.max(y1, boxes[p + 1]);
      if (h <= 0) continue;
      const inter = w * h;
      const iou = inter / (area[k] + area[q] - inter);
      if (iou > opts.iouThreshold) suppressed[q] = 1;
    }
  }
  return Int32Array.from(keep);
}
