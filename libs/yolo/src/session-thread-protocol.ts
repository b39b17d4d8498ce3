import type { InferenceSession } from 'onnxruntime-node';
import type { LetterboxGeometry } from './letterbox';
import type { FrameDetections } from './postprocess';
import type { TaskOptions } from './tasks/model-task';

/** The model's shape as a session thread needs it (a subset of `ModelDescription`). */
export interface SessionShape {
  inputName: string;
  outputName: string;
  inputWidth: number;
  inputHeight: number;
  /** Fixed batch size of the model, or 'dynamic'. */
  batch: number | 'dynamic';
  names: readonly string[];
}

/** What a session thread is started with (`workerData`). */
export interface SessionThreadInit extends SessionShape {
  /** The graph the sessions run: the serving graph, or the export as it is. */
  model: ArrayBuffer;
  /** What the graph takes: uint8 NHWC frames as they are in the arena, or /255 NCHW floats made from them. */
  input: 'uint8' | 'float';
  /** The model's task (tasks/registry.ts), whose post-processor this thread runs. */
  task: string;
  /** How its output is read (one of the task's decodings). */
  output: string;
  /** Frames a run may carry, padding included (the size of the arenas runs arrive in). */
  arenaFrames: number;
  session: InferenceSession.SessionOptions;
  post: TaskOptions;
  /**
   * Sizes a dynamic model's runs are padded up to, each with its own session; empty: one session, each
   * run at its own size.
   */
  batchSizes: number[];
  /** Nice value of the thread and of ORT's pool threads (see YoloModelOptions.nice). */
  nice: number;
  /**
   * The thread's name on Linux, `ort-` and this (15 characters at most in all); ORT's pool threads
   * inherit it, so a profile of the process tells inference from decoding and the event loop.
   */
  name: string;
}

/** Run the frames in arena slots 0 … n-1. The arena is transferred, and comes back with the result. */
export interface SessionRunRequest {
  type: 'run';
  id: number;
  arena: ArrayBuffer;
  geometries: LetterboxGeometry[];
}

export interface SessionRunResult {
  /** Per frame, in slot order. */
  frames: FrameDetections[];
  /** Images in the first session.run, padding included. */
  runBatchSize: number;
  inferenceMs: number;
  postprocessMs: number;
  /** Host time turning arena frames into the session's input (0 for uint8 graphs). */
  inputMs: number;
  /** Bytes handed to and returned by `session.run`, all runs together. */
  bytesIn: number;
  bytesOut: number;
}

export type SessionThreadReply =
  | { type: 'ready'; warmedSessions: number }
  | { type: 'error'; message: string }
  | { type: 'closed' }
  | ({ type: 'result'; id: number; arena: ArrayBuffer; error?: undefined } & SessionRunResult)
  | { type: 'result'; id: number; arena: ArrayBuffer; error: string };
