import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { executionProvider, type AppConfig, type ExecutionProviderName } from './config';
import { ConfigError } from './settings';

const modelId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, ".", "_" or "-", at most 64');
const version = z.string().regex(/^[A-Za-z0-9_.+-]{1,64}$/, 'letters, digits, ".", "_", "+" or "-", at most 64');

const fileSchema = z
  .object({
    default: modelId.optional(),
    models: z
      .array(
        z
          .object({
            id: modelId,
            path: z.string().min(1),
            version: version.default('1'),
            provider: executionProvider.optional(),
            namesFile: z.string().min(1).optional(),
            confThreshold: z.number().min(0).max(1).optional(),
            iouThreshold: z.number().min(0).max(1).optional(),
            maxDetections: z.number().int().min(1).max(10_000).optional(),
            maxBatch: z.number().int().min(1).max(256).optional(),
            inputSize: z.number().int().min(32).max(4096).optional(),
            classifyTopK: z.number().int().min(1).max(1000).optional(),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

/** One model a site serves: what a worker loads and what edges let clients choose. */
export interface ModelSpec {
  id: string;
  version: string;
  /** The ONNX file (workers only; edges never open it). Undefined for a single-model edge. */
  path: string | undefined;
  namesFile: string | undefined;
  executionProvider: ExecutionProviderName;
  confThreshold: number;
  iouThreshold: number;
  maxDetections: number;
  maxBatch: number;
  /** Whether a setting chose `maxBatch` (the model's own or MAX_BATCH): the start-up fit keeps it. */
  maxBatchPinned: boolean;
  /** Input size for exports with dynamic height/width and no `imgsz` metadata. */
  inputSize: number | undefined;
  /** A classifier's classes per frame (CLASSIFY_TOP_K). */
  classifyTopK: number;
}

export interface ModelRepository {
  /** The model of clients that choose none. */
  defaultId: string;
  models: ModelSpec[];
}

/**
 * The models of this site: MODELS_FILE (JSON, re-read on SIGHUP) or, without it, one model from
 * MODEL_PATH and its settings, named MODEL_ID ("default"), so a single-model site configures
 * nothing new. Per-model settings left out take the global ones (CONF_THRESHOLD, MAX_BATCH, …).
 */
export function loadModelRepository(config: AppConfig): ModelRepository {
  const m = config.model;
  const base = {
    namesFile: m.namesFile,
    executionProvider: m.executionProvider,
    confThreshold: m.confThreshold,
    iouThreshold: m.iouThreshold,
    maxDetections: m.maxDetections,
    maxBatch: config.batching.maxBatch,
    maxBatchPinned: config.batching.hostFit.pinned.maxBatch,
    inputSize: undefined,
    classifyTopK: m.classifyTopK,
  };
  if (!config.modelsFile) {
    return {
      defaultId: config.modelId,
      models: [{ ...base, id: config.modelId, version: config.modelVersion, path: m.path }],
    };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(config.modelsFile, 'utf8'));
  } catch (err) {
    throw new ConfigError([`MODELS_FILE: cannot read ${config.modelsFile} as JSON (${(err as Error).message})`]);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(parsed.error.issues.map((i) => `MODELS_FILE ${i.path.join('.')}: ${i.message}`));
  const f = parsed.data;
  const ids = f.models.map((x) => x.id);
  const dup = ids.find((x, i) => ids.indexOf(x) !== i);
  if (dup) throw new ConfigError([`MODELS_FILE models: "${dup}" is listed twice`]);
  const defaultId = f.default ?? ids[0];
  if (!ids.includes(defaultId))
    throw new ConfigError([`MODELS_FILE default: "${defaultId}" is not one of ${ids.join(', ')}`]);
  const models = f.models.map((x): ModelSpec => ({
    id: x.id,
    version: x.version,
    path: x.path,
    namesFile: x.namesFile ?? base.namesFile,
    executionProvider: x.provider ?? base.executionProvider,
    confThreshold: x.confThreshold ?? base.confThreshold,
    iouThreshold: x.iouThreshold ?? base.iouThreshold,
    maxDetections: x.maxDetections ?? base.maxDetections,
    maxBatch: x.maxBatch ?? base.maxBatch,
    maxBatchPinned: x.maxBatch !== undefined || base.maxBatchPinned,
    inputSize: x.inputSize,
    classifyTopK: x.classifyTopK ?? base.classifyTopK,
  }));
  return { defaultId, models };
}
