import type { Detection } from '@vision/wire';
import { Candidates } from './candidates';
import { decode, DecoderScratch, type OutputView } from './decoders';
import type { OutputLayoutKind } from './layout';
import { unletterboxBoxes, type LetterboxGeometry } from './letterbox';
import { nonMaxSuppression } from './nms';

export interface PostprocessOptions {
  /** @defaultValue 0.25 */
  confThreshold: number;
  /** @defaultValue 0.45 */
  iouThreshold: number;
  /** @defaultValue 300 */
  maxDetections: number;
}

export const DEFAULT_POSTPROCESS: PostprocessOptions = {
  confThreshold: 0.25,
  iouThreshold: 0.45,
  maxDetections: 300,
};

const MAX_NMS_CANDIDATES = 30000;

/**
 * Turns one image's raw output into detections in original pixels. Holds scratch buffers, so one
 * instance serves one caller at a time (the model keeps one per batch pipeline).
 */
export class Postprocessor {
  private readonly candidates = new Candidates();
  private readonly scratch = new DecoderScratch();

  constructor(
    private readonly kind: OutputLayoutKind,
    private readonly names: readonly string[],
    private readonly opts: PostprocessOptions,
  ) {}

  run(view: OutputView, geometry: LetterboxGeometry): Detection[] {
    const c = this.candidates;
    decode(this.kind, view, this.opts.confThreshold, c, this.scratch);
    let keep: ArrayLike<number>;
    if (this.kind === 'end2end') {
      // Already suppressed by the model; keep its order but honour the detection cap.
      keep = Int32Array.from({ length: Math.min(c.count, this.opts.maxDetections) }, (_, i) => i);
    } else {
      keep = nonMaxSuppression(c, {
        iouThreshold: this.opts.iouThreshold,
        maxDetections: this.opts.maxDetections,
        maxCandidates: MAX_NMS_CANDIDATES,
      });
    }
    const boxes = new Float32Array(keep.length * 4);
    for (let k = 0; k < keep.length; k++) boxes.set(c.boxes.subarray(keep[k] * 4, keep[k] * 4 + 4), k * 4);
    unletterboxBoxes(boxes, keep.length, geometry);
    const out: Detection[] = new Array(keep.length);
    for (let k = 0; k < keep.length; k++) {
      const i = keep[k];
      const cls = c.classes[i];
      out[k] = {
        xmin: round(boxes[k * 4], 100),
        ymin: round(boxes[k * 4 + 1], 100),
        xmax: round(boxes[k * 4 + 2], 100),
        ymax: round(boxes[k * 4 + 3], 100),
        confidence: round(c.scores[i], 10000),
        class: cls,
        name: this.names[cls] ?? `class_${cls}`,
      };
    }
    return out;
  }
}

// Sub-pixel digits past 0.01 px carry no information and only lengthen every reply on the wire.
function round(v: number, scale: number): number {
  return Math.round(v * scale) / scale;
}
