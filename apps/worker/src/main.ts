import type { AddressInfo } from 'node:net';
import { metricsPortFor, TIMINGS } from '@vision/config';
import { runMain } from '@vision/runtime';
import { serveMetrics, VisionMetrics, watchLoop } from '@vision/metrics';
import { startWorkerRuntime, type WorkerRuntime } from '@vision/worker';

/**
 * `npm run start:worker`: pulls frames from Redis, batches, infers, publishes; needs REDIS_URL and
 * MODEL_PATH (or MODELS_FILE). SIGHUP re-reads the model repository and swaps changed models live.
 */
runMain('worker', async (config, log) => {
  const metrics = new VisionMetrics();
  const loop = watchLoop(TIMINGS.loopWatch);
  const loaded: { runtime?: WorkerRuntime } = {};
  // Up before the models load (a TensorRT build can take minutes): alive, not yet ready.
  const server = await serveMetrics(metrics, metricsPortFor(config, 'worker'), config.host, log, async () => ({
    model: false,
    ...(await loaded.runtime?.readiness()),
    loop: !loop.stalled(),
  }));
  log.info({ metricsPort: (server.address() as AddressInfo).port }, 'ops port listening');
  const worker = (loaded.runtime = await startWorkerRuntime(config, log, { metrics }));
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading the model repository');
    void worker.reload();
  });
  return async () => {
    await worker.stop();
    server.close();
    loop.stop();
  };
});
