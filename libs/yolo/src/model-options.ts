import type { AppConfig, ModelSpec } from '@vision/config';
import { INFERENCE } from '@vision/config';
import type { Logger } from './logger';
import type { YoloModelOptions } from './yolo-model';

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
    nice: INFERENCE.nice,
    // A serving worker always decodes beside inference: the pool's threads sleep between runs.
    allowSpinning: false,
    spinSingleFrames: m.spinSingleFrames,
    spinAfterIdleMs: INFERENCE.spinAfterIdleMs,
    logger: o.logger,
  };
}
