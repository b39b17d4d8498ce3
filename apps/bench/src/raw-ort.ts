import type { YoloModel } from '@vision/yolo';
import { mean, percentile } from './stats';

export interface RawOrtRow {
  batch: number;
  /** Sessions running at once, and ORT threads each (compare.ts; bench:model runs one). */
  engines?: number;
  threads?: number;
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
 * Raw in-process throughput of `model` at one batch size: on each of its engines at once, a warm-up
 * run, then back-to-back runs for `seconds` (at least `minRuns`), with decoding and postprocessing
 * timed apart from inference. Frames per second add up over the engines.
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
  const infer: number[] = [];
  const pre: number[] = [];
  const input: number[] = [];
  const post: number[] = [];
  const total: number[] = [];
  let bytesIn = 0;
  let bytesOut = 0;
  let fps = 0;
  const loop = async () => {
    await model.infer((await decodeAll()).decoded);
    const mine: number[] = [];
    const deadline = performance.now() + opts.seconds * 1000;
    while (mine.length < opts.minRuns || performance.now() < deadline) {
      const t0 = performance.now();
      const prepared = await decodeAll();
      const r = await model.infer(prepared.decoded);
      total.push(performance.now() - t0);
      pre.push(prepared.ms / batch);
      mine.push(r.inferenceMs);
      input.push(r.inputMs / batch);
      post.push(r.postprocessMs / batch);
      bytesIn = r.bytesIn / batch;
      bytesOut = r.bytesOut / batch;
    }
    infer.push(...mine);
    fps += (batch * 1000) / mean(mine);
  };
  await Promise.all(Array.from({ length: model.concurrency }, loop));
  return {
    batch,
    runs: infer.length,
    inferMsP50: percentile(infer, 50),
    inferMsP95: percentile(infer, 95),
    inferFps: fps,
    decodeMsPerFrame: mean(pre),
    inputMsPerFrame: mean(input),
    postprocessMsPerFrame: mean(post),
    bytesInPerFrame: bytesIn,
    bytesOutPerFrame: bytesOut,
    totalMsP50: percentile(total, 50),
  };
}
