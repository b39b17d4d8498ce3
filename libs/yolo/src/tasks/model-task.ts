import type { OutputView } from '../decoders';
import type { LetterboxGeometry } from '../letterbox';
import type { UltralyticsMetadata } from '../metadata';
import type { TensorInfo } from '../model-info';
import type { FrameDetections, PostprocessOptions } from '../postprocess';
import type { FrameFit } from '../preprocess';
import type { ServingGraphSink } from '../serving-graph';

/** What every task's post-processing is given: detection's thresholds and a classifier's class count. */
export interface TaskOptions extends PostprocessOptions {
  /** Classes a classifier answers per frame, best first (bounded by its class count). */
  classifyTopK: number;
}

/** What a task learned from an export at load: its output layout and the class names of its indices. */
export interface TaskHead {
  /** The export's own layout, as `GET /v1/models` reports it (`v8`, `v5`, `end2end`, `classify`, …). */
  layout: string;
  names: string[];
  /** How the export's own output is read on the host (the session thread's `output`). */
  decoding: string;
}

/** The serving graph's post-processing, after the shared input wrap (uint8 NHWC in). */
export interface TailSpec {
  head: TaskHead;
  /** The export's output tensor. */
  outputName: string;
  /** Detection candidates the graph keeps (SERVING_TOP_K). */
  topK: number;
  /** The lowest score any caller wants back. */
  candidateThreshold: number;
  classifyTopK: number;
}

/** What the serving graph outputs once a task's tail is added: the tensor read and how it is read. */
export interface ServedOutput {
  outputName: string;
  decoding: string;
}

/** One frame's output to findings in original-image pixels; one instance per session thread. */
export interface FramePostprocessor {
  run(view: OutputView, geometry: LetterboxGeometry): FrameDetections;
}

/**
 * Everything that differs between Ultralytics tasks, in one object per task (see tasks/registry.ts):
 * a new task is one file defining this and one line registering it. Methods run on the worker's
 * main thread at load (`head`, `servingTail`, `fit` per frame) and in session threads
 * (`postprocessor`), which find the task again by `name`.
 */
export interface ModelTask {
  /** The metadata `task` value (Ultralytics: detect, classify, segment, pose, obb). */
  readonly name: string;
  /** Where a decoded frame lands in the model input (letterbox, centre crop, …). */
  readonly fit: FrameFit;
  /**
   * Checks the export's output and metadata, throwing `E_MODEL_INVALID` naming the metadata field
   * or `E_MODEL_LAYOUT` naming the shape, and returns its layout and class names. `names` is the
   * names file's list, else the metadata's.
   */
  head(output: TensorInfo, meta: UltralyticsMetadata, names: readonly string[] | undefined): TaskHead;
  /**
   * Adds the task's post-processing to the serving graph after the export's nodes (throwing
   * `ServingGraphUnsupported` where the export cannot take it), or returns undefined to serve the
   * export's own output behind the input wrap.
   */
  servingTail(sink: ServingGraphSink, spec: TailSpec): ServedOutput | undefined;
  postprocessor(decoding: string, names: readonly string[], opts: TaskOptions): FramePostprocessor;
}
