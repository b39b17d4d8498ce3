import { readFile, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { loadModelRepository, TIMINGS, type AppConfig, type ModelRepository, type ModelSpec } from '@vision/config';
import { requireStateSchema } from '@vision/redis';
import { checkRedisTargets, OutageLog, throttledWarn } from '@vision/runtime';
import { VisionError } from '@vision/wire';
import { type ModelAnnouncement } from '@vision/transport';
import type { VisionMetrics } from '@vision/metrics';
import { combineQueues, RedisWorkerTransport, workerStreamOptions, type WorkerTransport } from '@vision/transport';
import { modelOptionsFrom, parseNamesFile, YoloModel } from '@vision/yolo';
import { backfillPolicy, startBulk } from './bulk-backfill';
import { InferenceWorker } from './inference-worker';

/** One model this process serves: its sessions, its stream and its batcher. */
interface Served {
  spec: ModelSpec;
  model: YoloModel;
  transport: WorkerTransport;
  worker: InferenceWorker<Awaited<ReturnType<YoloModel['decode']>>>;
}

export interface WorkerRuntime {
  /** Model ids served now, with the version each runs. */
  served(): Record<string, string>;
  /** Readiness checks: every served model loaded, Redis reachable, not stopping. */
  readiness(): Promise<Record<string, boolean>>;
  /**
   * Re-reads the model repository (SIGHUP): a model whose version or settings changed is loaded
   * beside the running one, takes over the stream once loaded, and the old one finishes and
   * acknowledges what it holds before it is released; new models start, removed ones drain.
   * A model that fails to load leaves the running version serving.
   */
  reload(): Promise<void>;
  /** Stops reading, finishes and acknowledges the batches in hand, releases the models. */
  stop(): Promise<void>;
}

export interface WorkerDeps {
  /** A model's frame source; Redis (REDIS_URL) unless given (the embedded server's in-memory queue). */
  transportFor?: (model: string) => WorkerTransport;
  metrics?: VisionMetrics;
}

/** Rough resident cost of a model: ORT keeps the weights and an arena of about the same size again. */
const MODEL_MEMORY_FACTOR = 3;

/** Loads the models this worker serves, connects their streams and starts one batcher per model. */
export async function startWorkerRuntime(
  config: AppConfig,
  log: Logger,
  deps: WorkerDeps = {},
): Promise<WorkerRuntime> {
  const outage = new OutageLog(log, 'redis', TIMINGS.outageReminderMs);
  const warn = throttledWarn(log);
  const report = (where: string, err: Error) => outage.failure(where, err, warn);
  // Checked before any model loads, so a missing REDIS_URL or a wrong sentinel master fails fast.
  const transportFor = deps.transportFor ?? redisTransports(config, log, outage, report, deps.metrics);
  if (!deps.transportFor) {
    await checkRedisTargets(config, log);
    await requireStateSchema(config.stateRedisTarget!, config.redisPrefix, 'worker');
  }
  // Camera frames' detections go to the results stream (the events service's input) when Redis carries them.
  const recording = !deps.transportFor && config.results.enabled;
  const served = new Map<string, Served>();
  // Bulk jobs need Redis (BullMQ); the embedded server has none.
  const bulk = deps.transportFor
    ? undefined
    : startBulk(config, log, { onState: outage.onState, report }, deps.metrics);
  let generation = 0;
  let stopped: Promise<void> | undefined;

  const startModel = async (spec: ModelSpec): Promise<Served> => {
    const model = await loadModel(config, spec, log, recording ? config.results.trackLowThreshold : undefined);
    const transport = transportFor(spec.id);
    // A fresh consumer name per generation: during a swap old and new read the same group side by side.
    const consumer = `${config.workerId}#${++generation}`;
    await transport.start(consumer);
    const backfill = bulk?.source(spec.id);
    // The batch size the host fit chose, where it ran (else the setting's).
    const placed = { ...spec, maxBatch: model.placement.maxBatch };
    const worker = new InferenceWorker(
      transport,
      model,
      {
        model: { id: spec.id, version: spec.version },
        maxBatch: placed.maxBatch,
        maxWaitMs: config.batching.maxWaitMs,
        decodeConcurrency: config.batching.decodeConcurrency,
        idleBlockMs: TIMINGS.idleReadBlockMs,
        ...backfillPolicy(config, placed),
        ...(backfill ? { backfill } : {}),
        ...(recording ? { results: { confThreshold: spec.confThreshold } } : {}),
      },
      log,
      deps.metrics,
    );
    worker.start();
    await transport.announce(announcement(spec, model)).catch((err: Error) => report(`announce ${spec.id}`, err));
    log.info(
      {
        workerId: config.workerId,
        consumer,
        model: spec.id,
        version: spec.version,
        transport: transport.kind,
        ...model.placement,
      },
      'model serving',
    );
    return { spec, model, transport, worker };
  };

  const retire = async (s: Served): Promise<void> => {
    await s.worker.stop();
    await s.transport.close();
    await s.model.dispose();
  };

  const wanted = async (repo: ModelRepository): Promise<ModelSpec[]> => {
    const ids = config.workerModels;
    const unknown = ids?.filter((id) => !repo.models.some((m) => m.id === id)) ?? [];
    if (unknown.length)
      throw new VisionError('E_CONFIG', `WORKER_MODELS: ${unknown.join(', ')} not in the model repository`);
    const chosen = repo.models.filter((m) => !ids || ids.includes(m.id));
    for (const m of chosen)
      if (!m.path)
        throw new VisionError('E_CONFIG', 'MODEL_PATH must be set: the path of the ONNX model this worker serves');
    return withinBudget(chosen, config.modelMemoryMb, log);
  };

  const initial = await wanted(loadModelRepository(config));
  try {
    for (const spec of initial) served.set(spec.id, await startModel(spec));
  } catch (err) {
    await Promise.all([...served.values()].map(retire));
    throw err;
  }
  deps.metrics?.observeQueue(async () =>
    combineQueues(await Promise.all([...served.values()].map((s) => s.transport.health()))),
  );
  log.info({ workerId: config.workerId, models: [...served.keys()], ...config.batching }, 'worker started');

  let reloading = Promise.resolve();
  return {
    served: () => Object.fromEntries([...served].map(([id, s]) => [id, s.spec.version])),
    async readiness() {
      const health = await Promise.all([...served.values()].map((s) => s.transport.health()));
      return { model: served.size > 0, queue: health.every((h) => h.reachable), accepting: stopped === undefined };
    },
    reload() {
      reloading = reloading.then(async () => {
        if (stopped) return;
        let next: ModelSpec[];
        try {
          next = await wanted(loadModelRepository(config));
        } catch (err) {
          log.error({ err: (err as Error).message }, 'model repository not reloaded; the running models keep serving');
          return;
        }
        for (const [id, s] of served) {
          if (next.some((m) => m.id === id)) continue;
          served.delete(id);
          await bulk?.unserve(id);
          await retire(s);
          log.info({ model: id }, 'model removed');
        }
        for (const spec of next) {
          const current = served.get(spec.id);
          if (current && JSON.stringify(current.spec) === JSON.stringify(spec)) continue;
          let fresh: Served;
          try {
            fresh = await startModel(spec);
          } catch (err) {
            log.error(
              { err: (err as Error).message, model: spec.id, version: spec.version },
              'new model version failed to load; the running one keeps serving',
            );
            continue;
          }
          served.set(spec.id, fresh);
          if (current) {
            await retire(current);
            log.info({ model: spec.id, from: current.spec.version, to: spec.version }, 'model swapped');
          }
        }
      });
      return reloading;
    },
    stop() {
      stopped ??= (async () => {
        await reloading;
        // Bulk jobs first, while the batchers still run: their images in hand get recorded.
        await bulk?.close();
        await Promise.all([...served.values()].map(retire));
        outage.stop();
        log.info({ workerId: config.workerId }, 'worker stopped');
      })();
      return stopped;
    },
  };
}

async function loadModel(
  config: AppConfig,
  spec: ModelSpec,
  log: Logger,
  lowThreshold: number | undefined,
): Promise<YoloModel> {
  return YoloModel.load(
    modelOptionsFrom(config, {
      modelPath: spec.path!,
      spec,
      names: spec.namesFile ? parseNamesFile(await readFile(spec.namesFile, 'utf8')) : undefined,
      ...(lowThreshold !== undefined ? { lowThreshold } : {}),
      logger: log.child({ model: spec.id, version: spec.version }),
    }),
  );
}

function announcement(spec: ModelSpec, model: YoloModel): ModelAnnouncement {
  const d = model.description;
  return {
    id: spec.id,
    version: spec.version,
    classes: [...d.names],
    inputShape: [d.batch === 'dynamic' ? -1 : d.batch, 3, d.inputHeight, d.inputWidth],
    task: d.task,
    layout: d.layout,
    provider: d.provider,
  };
}

/** The models that fit MODEL_MEMORY_MB, in repository order (0: all). Those left out are logged. */
async function withinBudget(specs: ModelSpec[], budgetMb: number, log: Logger): Promise<ModelSpec[]> {
  if (budgetMb === 0) return specs;
  const out: ModelSpec[] = [];
  let used = 0;
  for (const s of specs) {
    const mb = ((await stat(s.path!).catch(() => ({ size: 0 }))).size * MODEL_MEMORY_FACTOR) / 2 ** 20;
    if (used + mb > budgetMb) {
      log.warn(
        { model: s.id, estimatedMb: Math.round(mb), budgetMb },
        'model left out: over MODEL_MEMORY_MB (another worker must serve it)',
      );
      continue;
    }
    used += mb;
    out.push(s);
  }
  if (out.length === 0) throw new VisionError('E_CONFIG', `MODEL_MEMORY_MB (${budgetMb}) fits none of the models`);
  return out;
}

function redisTransports(
  config: AppConfig,
  log: Logger,
  outage: OutageLog,
  report: (where: string, err: Error) => void,
  metrics: VisionMetrics | undefined,
): (model: string) => WorkerTransport {
  const target = config.redisTarget;
  if (!target) throw new VisionError('E_CONFIG', 'REDIS_URL or REDIS_SENTINELS must be set for a stand-alone worker');
  if (config.redisTargets.length > 1)
    throw new VisionError('E_CONFIG', 'REDIS_URL: a worker serves one shard; give it one URL (edges take the list)');
  return (model) =>
    new RedisWorkerTransport({
      target,
      prefix: config.redisPrefix,
      model,
      ...workerStreamOptions(config),
      ...(config.results.enabled ? { results: { shards: config.results.shards, maxLen: config.results.maxLen } } : {}),
      onError: (err, where) => report(`${where} (${model})`, err),
      onState: outage.onState,
      onFrameWindow: (outcome) => metrics?.workerFrameWindow.inc({ outcome }),
      onReclaim: (e) => {
        metrics?.workerReclaimed.inc(e.claimed);
        metrics?.workerDeadLetters.inc(e.deadLettered);
        log.warn({ ...e, model }, 'took over frames from an unresponsive worker');
      },
    });
}
