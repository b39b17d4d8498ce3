import { DETECT_PATH } from '@vision/wire';
import { DEMO_MODEL_PATH } from '@vision/config';
import { runMain } from '@vision/runtime';
import { startEdgeRuntime } from '@vision/edge';
import { VisionMetrics } from '@vision/metrics';
import { admissionFrom, MemoryTransport } from '@vision/transport';
import { startWorkerRuntime } from '@vision/worker';

/**
 * `npm start`: edge and worker in one process. Without REDIS_URL they meet through an in-memory
 * queue (nothing else to install); with REDIS_URL they use Redis like separate processes would.
 */
runMain('server', async (given, log) => {
  const config = { ...given, model: { ...given.model, path: given.model.path ?? DEMO_MODEL_PATH } };
  const metrics = new VisionMetrics();
  const memory = config.redisTarget ? undefined : new MemoryTransport(admissionFrom(config));
  const worker = await startWorkerRuntime(config, log, {
    transportFor: memory && ((id) => memory.worker(id)),
    metrics,
  });
  const edge = await startEdgeRuntime({
    config,
    log,
    metrics,
    transport: memory,
    demo: true,
    readiness: async () => ({ model: true }),
  });
  log.info(
    {
      mode: memory ? 'embedded' : 'redis',
      url: `ws://localhost:${edge.port}${DETECT_PATH}`,
      model: config.model.path,
      models: worker.served(),
    },
    'ready',
  );
  process.on('SIGHUP', () => {
    try {
      edge.catalog.reload();
    } catch (err) {
      log.error({ err: (err as Error).message }, 'model repository not reloaded; the current one stays');
      return;
    }
    void worker.reload();
  });
  return async () => {
    await edge.stop();
    await worker.stop();
  };
});
