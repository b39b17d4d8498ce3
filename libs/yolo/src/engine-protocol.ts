import type { InferenceSession } from 'onnxruntime-node';
import type { Detection } from '@vision/protocol';
import type { OutputLayoutKind } from './layout';
import type { LetterboxGeometry } from './letterbox';
import type { PostprocessOptions } from './postprocess';

/** What an engine thread is started with (`workerData`). */
export interface EngineInit {
  model: ArrayBuffer;
  session: InferenceSession.SessionOptions;
  inputName: string;
  outputName: string;
  inputWidth: number;
  inputHeight: number;
  /** Fixed batch size of the model, or 'dynamic'. */
  batch: number | 'dynamic';
  layout: OutputLayoutKind;
  names: readonly string[];
  post: PostprocessOptions;
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
      /** Images per session.run (padding included for static batches). */
      runBatchSize?: number;
      inferenceMs?: number;
      postprocessMs?: number;
    };
