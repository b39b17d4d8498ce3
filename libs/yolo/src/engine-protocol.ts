import type { InferenceSession } from 'onnxruntime-node';
import type { Detection } from '@vision/wire';
import type { OutputLayoutKind } from './layout';
import type { LetterboxGeometry } from './letterbox';
import type { PostprocessOptions } from './postprocess';

/** The model's shape as the engine needs it (a subset of `ModelDescription`). */
export interface EngineShape {
  inputName: string;
  outputName: string;
  inputWidth: number;
  inputHeight: number;
  /** Fixed batch size of the model, or 'dynamic'. */
  batch: number | 'dynamic';
  layout: OutputLayoutKind;
  names: readonly string[];
}

/** What an engine thread is started with (`workerData`). */
export interface EngineInit extends EngineShape {
  model: ArrayBuffer;
  session: InferenceSession.SessionOptions;
  /** Options of a separate session for runs of one frame (see YoloModelOptions.spinSingleFrames). */
  singleFrameSession?: InferenceSession.SessionOptions;
  post: PostprocessOptions;
  /** Sizes a dynamic model's runs are padded up to, each with its own session; empty: one session, each run at its own size. */
  batchSizes: number[];
  /** Run each session once (zeros) at its size before reporting ready (GPU providers: kernel selection). */
  warmup: boolean;
  /** Nice value of the thread and of ORT's pool threads (see YoloModelOptions.nice). */
  nice: number;
}

export interface EngineRunRequest {
  type: 'run';
  id: number;
  frames: { pixels: Uint8Array; geometry: LetterboxGeometry }[];
}

export type EngineReply =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | { type: 'closed' }
  | {
      type: 'result';
      id: number;
      error?: string;
      detections?: Detection[][];
      /** Images in the first session.run, padding included. */
      runBatchSize?: number;
      inferenceMs?: number;
      postprocessMs?: number;
    };
