import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { AppConfig } from '@vision/config';
import { VisionError } from '@vision/protocol';
import type { VisionMetrics } from '@vision/metrics';
import { RedisWorkerTransport, type WorkerTransport } from '@vision/transport';
import { parseNamesFile, YoloModel } from '@vision/yolo';
import { InferenceWorker } from './inference-worker';

export interface WorkerRuntime {
  model: YoloModel;
  transport: WorkerTransport;
  /** Readiness checks: Redis reachable and not stopping (the model is loaded once this exists). */
  readiness(): Promise<Record<string, boolean>>;
  /** Stops reading, finishes and acknowledges the batches in hand, releases the model. */
  stop(): Promise<void>;
}

/** Loads the model, connects the transport (Redis unless one is given) and starts the worker loop. */
export async function startWorkerRuntime(
  config: AppConfig,
  log: Logger,
  deps: { transport?: WorkerTransport; metrics?: VisionMetrics } = {},
): Promise<WorkerRuntime> {
  // Built (not connected) before the model loads, so a missing REDIS_URL fails fast.
  const transport = deps.transport ?? redisTransport(config, log, deps.metrics);
  const m = config.model;
  if (!m.path) throw new VisionError('E_CONFIG', 'MODEL_PATH must be set: the path of the ONNX model this worker serves');
  const model = await YoloModel.load({
    modelPath: m.path,
    names: m.namesFile ? parseNamesFile(await readFile(m.namesFile, 'utf8')) : undefined,
    confThreshold: m.confThreshold,
    iouThreshold: m.iouThreshold,
    maxDetections: m.maxDetections,
    executionProvider: m.executionProvider,
    allowProviderFallback: m.allowProviderFallback,
    deviceId: m.deviceId,
    intraOpThreads: m.intraOpThreads,
    interOpThreads: m.interOpThreads,
    maxInputPixels: m.maxInputPixels,
    costlyMaxPixels: m.costlyDecodeMaxPixels,
    decodeTimeoutS: m.decodeTimeoutS,
    engines: config.batching.engines,
    allowSpinning: false, // decodes always run beside inference here (see YoloModelOptions.allowSpinning)
    logger: log,
  });
  await transport.start(config.workerId);
  const worker = new InferenceWorker(transport, model, { maxBatch: config.batching.maxBatch, maxWaitMs: config.batching.maxWaitMs, decodeConcurrency: config.batching.decodeConcurrency }, log, deps.metrics);
  worker.start();
  deps.metrics?.observeQueue(() => transport.health());
  log.info({ workerId: config.workerId, transport: transport.kind, ...config.batching }, 'worker started');
  let stopped: Promise<void> | undefined;
  return {
    model,
    transport,
    async readiness() {
      return { model: true, queue: (await transport.health()).reachable, accepting: stopped === undefined };
    },
    stop() {
      stopped ??= (async () => {
        await worker.stop();
        await transport.close();
        await model.dispose();
        log.info({ workerId: config.workerId }, 'worker stopped');
      })();
      return stopped;
    },
  };
}

function redisTransport(config: AppConfig, log: Logger, metrics: VisionMetrics | undefined): RedisWorkerTransport {
  if (!config.redisUrl) throw new VisionError('E_CONFIG', 'REDIS_URL must be set for a stand-alone worker');
  if (config.redisUrls.length > 1) throw new VisionError('E_CONFIG', 'REDIS_URL: a worker serves one shard; give it one URL (edges take the list)');
  return new RedisWorkerTransport({
    url: config.redisUrl,
    prefix: config.redisPrefix,
    claimMinIdleMs: config.streams.claimMinIdleMs,
    maxDeliveries: config.streams.maxDeliveries,
    onError: (err, where) => log.warn({ err: err.message, where }, 'redis'),
    onReclaim: (e) => {
      metrics?.workerReclaimed.inc(e.claimed);
      metrics?.workerDeadLetters.inc(e.deadLettered);
      log.warn(e, 'took over frames from an unresponsive worker');
    },
  });
}
