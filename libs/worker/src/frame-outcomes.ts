import { resultsEntryFromDetections } from '@vision/results-stream';
import type { CompletedFrame, Delivery, FrameOutcomeMessage } from '@vision/transport';
import { toWireError, type FrameFindings } from '@vision/wire';
import type { InferenceWorkerOptions } from './inference-worker-options';
import type { Decoded } from './detector';
import type { ReadyFrame } from './ready-pool';

/** A frame's result, and its record for the results stream when it is a live camera frame. */
export function completedFrame<D extends Decoded>(
  f: ReadyFrame<D>,
  found: FrameFindings & { high: number },
  batchSize: number,
  inferenceMs: number,
  live: boolean,
  opts: Pick<InferenceWorkerOptions, 'model' | 'results'>,
): CompletedFrame {
  const { job, pickedAt } = f.delivery;
  const outcome: FrameOutcomeMessage = {
    key: job.key,
    connId: job.connId,
    ok: true,
    detections: found.detections.slice(0, found.high),
    ...(found.classifications ? { classifications: found.classifications } : {}),
    model: opts.model.id,
    modelVersion: opts.model.version,
    batchSize,
    pickedAt,
    preprocessMs: f.decoded.decodeMs,
    inferenceMs,
  };
  const results = live && opts.results;
  const record = results
    ? resultsEntryFromDetections({
        camera: job.streamId,
        frame: job.frameId,
        ts: job.captureTs ?? job.receivedAt,
        model: opts.model.id,
        w: f.decoded.geometry.origWidth,
        h: f.decoded.geometry.origHeight,
        conf: results.confThreshold,
        detections: found.detections,
      })
    : undefined;
  return { delivery: f.delivery, outcome, ...(record ? { record } : {}) };
}

/** A frame's error answer. */
export function failed(d: Delivery, err: unknown): CompletedFrame {
  return { delivery: d, outcome: { key: d.job.key, connId: d.job.connId, ok: false, error: toWireError(err) } };
}
