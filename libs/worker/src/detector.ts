import type { FrameFindings } from '@vision/wire';

/** A decoded frame as the worker sees it: what decoding cost, and the image's size. */
export interface Decoded {
  decodeMs: number;
  geometry: { origWidth: number; origHeight: number };
}

/** What the worker needs of a model: decode one frame, run a batch of decoded frames. */
export interface Detector<D extends Decoded = Decoded> {
  /** Batches that may run at once. */
  readonly concurrency: number;
  decode(image: Uint8Array): Promise<D>;
  /**
   * Per frame, what the model found: detections above the confidence threshold first (`high` of
   * them), and a classifier's classes.
   */
  infer(frames: readonly D[]): Promise<{ frames: (FrameFindings & { high: number })[]; inferenceMs: number }>;
}
