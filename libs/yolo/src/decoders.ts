import type { Candidates } from './candidates';
import type { OutputLayoutKind } from './layout';

/** One image's slice of a model output, with the two non-batch dimensions. */
export interface OutputView {
  data: Float32Array;
  /** Offset of this image's first element in `data`. */
  offset: number;
  d1: number;
  d2: number;
}

/** Scratch space reused across calls: the per-anchor best score and class for the v8 decoder. */
export class DecoderScratch {
  best = new Float32Array(0);
  bestClass = new Int32Array(0);

  ensure(n: number): void {
    if (this.best.length < n) {
      this.best = new Float32Array(n);
      this.bestClass = new Int32Array(n);
    }
  }
}

/**
 * YOLOv8 / YOLO11 `[4+nc, N]`. Walks class rows in memory order (one row per class, contiguous
 * over anchors) keeping a running best per anchor, instead of striding across rows per anchor.
 */
export function decodeV8(v: OutputView, conf: number, out: Candidates, scratch: DecoderScratch): void {
  const { data, offset, d1: rows, d2: n } = v;
  const nc = rows - 4;
  scratch.ensure(n);
  const best = scratch.best;
  const bestClass = scratch.bestClass;
  best.fill(-Infinity, 0, n);
  for (let c = 0; c < nc; c++) {
    const row = offset + (4 + c) * n;
    for (let a = 0; a < n; a++) {
      const s = data[row + a];
      if (s > best[a]) {
        best[a] = s;
        bestClass[a] = c;
      }
    }
  }
  let kept = 0;
  for (let a = 0; a < n; a++) if (best[a] > conf) kept++;
  out.reset(kept);
  for (let a = 0; a < n; a++) {
    if (!(best[a] > conf)) continue;
    const cx = data[offset + a];
    const cy = data[offset + n + a];
    const hw = data[offset + 2 * n + a] / 2;
    const hh = data[offset + 3 * n + a] / 2;
    out.push(cx - hw, cy - hh, cx + hw, cy + hh, best[a], bestClass[a]);
  }
}

/** YOLOv5 `[N, 5+nc]`: a row is skipped unless objectness clears the threshold; score = obj × cls. */
export function decodeV5(v: OutputView, conf: number, out: Candidates): void {
  const { data, offset, d1: n, d2: cols } = v;
  const nc = cols - 5;
  let capacity = 0;
  for (let a = 0; a < n; a++) if (data[offset + a * cols + 4] > conf) capacity++;
  out.reset(capacity);
  for (let a = 0; a < n; a++) {
    const r = offset + a * cols;
    const obj = data[r + 4];
    if (!(obj > conf)) continue;
    let best = -Infinity;
    let bestC = 0;
    for (let c = 0; c < nc; c++) {
      const s = data[r + 5 + c];
      if (s > best) {
        best = s;
        bestC = c;
      }
    }
    const score = best * obj;
    if (!(score > conf)) continue;
    const hw = data[r + 2] / 2;
    const hh = data[r + 3] / 2;
    out.push(data[r] - hw, data[r + 1] - hh, data[r] + hw, data[r + 1] + hh, score, bestC);
  }
}

/** YOLOv10 / `nms=True` `[K, 6]`: rows are final detections already; only the threshold applies. */
export function decodeEnd2End(v: OutputView, conf: number, out: Candidates): void {
  const { data, offset, d1: k, d2: cols } = v;
  let capacity = 0;
  for (let a = 0; a < k; a++) if (data[offset + a * cols + 4] > conf) capacity++;
  out.reset(capacity);
  for (let a = 0; a < k; a++) {
    const r = offset + a * cols;
    const score = data[r + 4];
    if (!(score > conf)) continue;
    out.push(data[r], data[r + 1], data[r + 2], data[r + 3], score, Math.round(data[r + 5]));
  }
}

/**
 * The serving graph's `[K, 6]` (cx, cy, w, h, score, class): the best K anchors, best first, so
 * the rows above the threshold are a prefix.
 */
function decodeTopK(v: OutputView, conf: number, out: Candidates): void {
  const { data, offset, d1: k, d2: cols } = v;
  let kept = 0;
  while (kept < k && data[offset + kept * cols + 4] > conf) kept++;
  out.reset(kept);
  for (let a = 0; a < kept; a++) {
    const r = offset + a * cols;
    const hw = data[r + 2] / 2;
    const hh = data[r + 3] / 2;
    out.push(data[r] - hw, data[r + 1] - hh, data[r] + hw, data[r + 1] + hh, data[r + 4], Math.round(data[r + 5]));
  }
}

/** What a session's output holds: a head's raw layout, or the serving graph's top-K rows. */
export type OutputDecoding = OutputLayoutKind | 'topk';

type Decoder = (v: OutputView, conf: number, out: Candidates, scratch: DecoderScratch) => void;

/** One decoder per kind: a kind without one is a compile error, never another kind's decoder. */
const DECODERS: Record<OutputDecoding, Decoder> = {
  v8: decodeV8,
  v5: decodeV5,
  end2end: decodeEnd2End,
  topk: decodeTopK,
};

export function decode(
  kind: OutputDecoding,
  v: OutputView,
  conf: number,
  out: Candidates,
  scratch: DecoderScratch,
): void {
  const decoder = DECODERS[kind];
  if (!decoder) throw new Error(`detect: unknown output decoding '${kind}'`);
  decoder(v, conf, out, scratch);
}
