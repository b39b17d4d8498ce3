import { runMain } from '@vision/config';
import { serveMetrics, VisionMetrics } from '@vision/metrics';
import { startWorkerRuntime } from '@vision/worker';

/** `npm run start:worker`: pulls frames from Redis, batches, infers, publishes; needs REDIS_URL. */
runMain('worker', async (config, log) => {
  const metrics = new VisionMetrics();
  const worker = await startWorkerRuntime(config, log, { metrics });
  const server = config.metricsPort ? await serveMetrics(metrics, config.metricsPort, config.host) : undefined;
  return async () => {
    server?.close();
    await worker.stop();
  };
});
