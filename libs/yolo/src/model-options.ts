import type { AppConfig, ExecutionProviderName, ModelSpec } from '@vision/config';
import { cpuCores, INFERENCE } from '@vision/config';
import type { FitOptions } from './host-fit';
import type { Logger } from './logger';
import type { PostprocessOptions } from './postprocess';

/** Everything a model is loaded with; `modelOptionsFrom` (below) fills it from the config. */
export interface YoloModelOptions extends PostprocessOptions {
  modelPath: string;
  /** Class names that override the file's metadata (e.g. from a names file). */
  names: readonly string[] | undefined;
  executionProvider: ExecutionProviderName;
  /** Run on CPU when the requested provider cannot load, instead of failing start-up. */
  allowProviderFallback: boolean;
  deviceId: number;
  /** ONNX Runtime intra-op threads; 0 lets ORT choose. */
  intraOpThreads: number;
  interOpThreads: number;
  /** Input size for exports whose height/width axes are dynamic and carry no `imgsz` metadata. */
  fallbackImageSize: number;
  maxInputPixels: number;
  /** Largest progressive/interlaced or 16-bit image, in pixels. */
  costlyMaxPixels: number;
  /** Decode budget per frame, whole seconds. */
  decodeTimeoutS: number;
  /** Session threads that may run batches at once (like Triton's instance groups). */
  engines: number;
  /** Most frames the caller hands `infer` at once (the top of the default GPU batch ladder). */
  maxBatch: number;
  /**
   * Sizes a dynamic-batch model runs at: a run is padded up to the smallest one that holds it, each
   * size has its own session, and on GPU providers each is run once while loading. Empty: one
   * session, every run at its own size. Undefined: on GPU providers `batchLadder(maxBatch)`; on
   * CPU empty, since there a padded slot costs as much as a real frame and a new shape nothing.
   */
  batchSizes: readonly number[] | undefined;
  /** Wrap the export in the serving graph (uint8 in, top-K out; serving-graph.ts). */
  servingGraph: boolean;
  /** Candidates the serving graph keeps per image. */
  topK: number;
  /** Classes a classifier answers per frame, best first. */
  classifyTopK: number;
  /**
   * Linux nice value of the inference threads (the session thread and ONNX Runtime's pool): above
   * 0, the event loop and decoding go first when the cores are contended.
   */
  nice: number;
  /** Let ONNX Runtime's pool spin between runs (ORT's default; a serving worker decodes beside it, so off). */
  allowSpinning: boolean;
  /**
   * With spinning off, still let a run of one frame spin, on a session of its own, when its engine
   * has been idle `spinAfterIdleMs` (low load: the cores are free).
   */
  spinSingleFrames: boolean;
  spinAfterIdleMs: number;
  /**
   * Fit engines, threads and batch size to the host while loading (CPU only; undefined: run
   * `engines`, `intraOpThreads` and `maxBatch` as given). Choices it leaves pinned stay as given.
   */
  fit: FitOptions | undefined;
  logger: Logger;
}

/**
 * A model's load options from the site's configuration (every default lives there), with a model
 * repository entry's own settings where it has them. `lowThreshold` is the low-score tier the
 * results stream carries (none: the confidence threshold).
 */
export function modelOptionsFrom(
  config: AppConfig,
  o: { modelPath: string; logger: Logger; names?: readonly string[]; spec?: ModelSpec; lowThreshold?: number },
): YoloModelOptions {
  const m = config.model;
  const spec = o.spec;
  const confThreshold = spec?.confThreshold ?? m.confThreshold;
  return {
    modelPath: o.modelPath,
    names: o.names,
    confThreshold,
    iouThreshold: spec?.iouThreshold ?? m.iouThreshold,
    maxDetections: spec?.maxDetections ?? m.maxDetections,
    lowThreshold: o.lowThreshold ?? confThreshold,
    executionProvider: spec?.executionProvider ?? m.executionProvider,
    allowProviderFallback: m.allowProviderFallback,
    deviceId: m.deviceId,
    intraOpThreads: m.intraOpThreads,
    interOpThreads: m.interOpThreads,
    fallbackImageSize: spec?.inputSize ?? INFERENCE.fallbackImageSize,
    maxInputPixels: m.maxInputPixels,
    costlyMaxPixels: m.costlyDecodeMaxPixels,
    decodeTimeoutS: m.decodeTimeoutS,
    engines: config.batching.engines,
    maxBatch: spec?.maxBatch ?? config.batching.maxBatch,
    batchSizes: config.batching.batchSizes,
    servingGraph: m.servingGraph,
    topK: m.topK,
    classifyTopK: spec?.classifyTopK ?? m.classifyTopK,
    nice: INFERENCE.nice,
    // A serving worker always decodes beside inference: the pool's threads sleep between runs.
    allowSpinning: false,
    spinSingleFrames: m.spinSingleFrames,
    spinAfterIdleMs: INFERENCE.spinAfterIdleMs,
    fit: config.batching.hostFit.enabled
      ? {
          cores: cpuCores(),
          pinned: {
            ...config.batching.hostFit.pinned,
            maxBatch: spec?.maxBatchPinned ?? config.batching.hostFit.pinned.maxBatch,
          },
          batches: INFERENCE.hostFitBatches,
          maxEngines: INFERENCE.hostFitMaxEngines,
          budgetMs: INFERENCE.hostFitBudgetMs,
        }
      : undefined,
    logger: o.logger,
  };
}
