import type { Detection, FrameFindings } from '@vision/wire';
import { Candidates } from './candidates';
import { decode, DecoderScratch, type OutputDecoding, type OutputView } from './decoders';
import { unletterboxBoxes, type LetterboxGeometry } from './letterbox';
import { nonMaxSuppression } from './nms';

export interface PostprocessOptions {
  confThreshold: number;
  iouThreshold: number;
  maxDetections: number;
  /**
   * Boxes between this and `confThreshold` are kept too, after the others (the low-score tier a
   * tracker recovers occluded objects from). At or above `confThreshold`: none.
   */
  lowThreshold: number;
}

/**
 * What one image gave, by its task (tasks/*.ts): detections at or above the confidence threshold
 * first (`high` of them), then the low tier; a classifier's classes instead of boxes.
 */
export interface FrameDetections extends FrameFindings {
  high: number;
}

/** Candidates NMS considers at most, best first (Ultralytics' `max_nms`). */
const MAX_NMS_CANDIDATES = 30000;

/**
 * Turns one image's raw output into detections in original pixels. Holds scratch buffers, so one
 * instance serves one caller at a time (each session thread has its own).
 */
export class Postprocessor {
  private readonly candidates = new Candidates();
  private readonly scratch = new DecoderScratch();
  private readonly floor: number;

  constructor(
    private readonly kind: OutputDecoding,
    private readonly names: readonly string[],
    private readonly opts: PostprocessOptions,
  ) {
    this.floor = Math.min(opts.confThreshold, opts.lowThreshold);
  }

  run(view: OutputView, geometry: LetterboxGeometry): FrameDetections {
    const c = this.candidates;
    decode(this.kind, view, this.floor, c, this.scratch);
    let keep: ArrayLike<number>;
    if (this.kind === 'end2end') {
      // Already suppressed by the model: its order, the high tier first, within the detection cap.
      const order = Array.from({ length: c.count }, (_, i) => i);
      const high = order.filter((i) => c.scores[i] > this.opts.confThreshold);
      keep = [...high, ...order.filter((i) => !(c.scores[i] > this.opts.confThreshold))].slice(
        0,
        this.opts.maxDetections,
      );
    } else {
      // Best score first, so the boxes above the confidence threshold come first.
      keep = nonMaxSuppression(c, {
        iouThreshold: this.opts.iouThreshold,
        maxDetections: this.opts.maxDetections,
        maxCandidates: MAX_NMS_CANDIDATES,
      });
    }
    const boxes = new Float32Array(keep.length * 4);
    for (let k = 0; k < keep.length; k++) boxes.set(c.boxes.subarray(keep[k] * 4, keep[k] * 4 + 4), k * 4);
    unletterboxBoxes(boxes, keep.length, geometry);
    const detections: Detection[] = new Array(keep.length);
    let high = 0;
    for (let k = 0; k < keep.length; k++) {
      const i = keep[k];
      const cls = c.classes[i];
      if (c.scores[i] > this.opts.confThreshold) high++;
      detections[k] = {
        xmin: round(boxes[k * 4], 100),
        ymin: round(boxes[k * 4 + 1], 100),
        xmax: round(boxes[k * 4 + 2], 100),
        ymax: round(boxes[k * 4 + 3], 100),
        confidence: round(c.scores[i], 10000),
        class: cls,
        name: this.names[cls] ?? `class_${cls}`,
      };
    }
    return { detections, high };
  }
}

// Sub-pixel digits past 0.01 px carry no information and only lengthen every reply on the wire.
function round(v: number, scale: number): number {
  return Math.round(v * scale) / scale;
}
