import type { YoloModel } from '@vision/yolo';
import { mean, percentile } from './stats';

export interface RawOrtRow {
  batch: number;
  runs: number;
  inferMsP50: number;
  inferMsP95: number;
  /** Frames per second through `session.run` alone. */
  inferFps: number;
  /** Decode + resize (sharp, libuv's pool): the same for both graphs. */
  decodeMsPerFrame: number;
  /**
   * Host time making the session's input from decoded pixels (padding; the float conversion without the
   * serving graph).
   */
  inputMsPerFrame: number;
  /** Host time turning the session's output into boxes (decoding and NMS). */
  postprocessMsPerFrame: number;
  /** Bytes into and out of `session.run` per frame. */
  bytesInPerFrame: number;
  bytesOutPerFrame: number;
  /** decode + infer + postprocess per run, back to back. */
  totalMsP50: number;
}

/**
 * Raw in-process throughput of `model` at one batch size: a warm-up run, then back-to-back runs
 * for `seconds` (at least `minRuns`), with decoding and postprocessing timed apart from inference.
 */
export async function measureRawOrt(
  model: YoloModel,
  images: readonly Buffer[],
  batch: number,
  opts: { seconds: number; minRuns: number },
): Promise<RawOrtRow> {
  const frames = Array.from({ length: batch }, (_, i) => images[i % images.length]);
  const decodeAll = async () => {
    const t0 = performance.now();
    const decoded = await Promise.all(frames.map((f) => model.decode(f)));
    return { decoded, ms: performance.now() - t0 };
  };
  await model.infer((await decodeAll()).decoded);
  const infer: number[] = [];
  const pre: number[] = [];
  const input: number[] = [];
  const post: number[] = [];
  let bytesIn = 0;
  let bytesOut = 0;
  const total: number[] = [];
  const deadline = performance.now() + opts.seconds * 1000;
  while (infer.length < opts.minRuns || performance.now() < deadline) {
    const t0 = performance.now();
    const prepared = await decodeAll();
    const r = await model.infer(prepared.decoded);
    total.push(performance.now() - t0);
    pre.push(prepared.ms / batch);
    infer.push(r.inferenceMs);
    input.push(r.inputMs / batch);
    post.push(r.postprocessMs / batch);
    bytesIn = r.bytesIn / batch;
    bytesOut = r.bytesOut / batch;
  }
  return {
    batch,
    runs: infer.length,
    inferMsP50: percentile(infer, 50),
    inferMsP95: percentile(infer, 95),
    inferFps: (batch * 1000) / mean(infer),
    decodeMsPerFrame: mean(pre),
    inputMsPerFrame: mean(input),
    postprocessMsPerFrame: mean(post),
    bytesInPerFrame: bytesIn,
    bytesOutPerFrame: bytesOut,
    totalMsP50: percentile(total, 50),
  };
}
