import { loadConfig } from '@vision/config';
import { modelOptionsFrom, silentLogger, YoloModel, type YoloModelOptions } from '@vision/yolo';

/** A model's options as a worker at the default settings would load it (a CPU worker: with its host fit). */
export function workerModelOptions(modelPath: string): YoloModelOptions {
  return modelOptionsFrom(loadConfig({}), { modelPath, logger: silentLogger });
}

/** A model as the worker would load it at the default settings, with a benchmark's own overrides. */
export function loadBenchModel(modelPath: string, overrides: Partial<YoloModelOptions> = {}): Promise<YoloModel> {
  // Placements are the bench's to choose: no host fit, and every run on an engine (none on the wide session).
  return YoloModel.load({ ...workerModelOptions(modelPath), fit: undefined, spinSingleFrames: false, ...overrides });
}
