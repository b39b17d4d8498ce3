import { createLogger, exitOnSignal, failStartup, loadConfigFromProcess } from '@vision/config';
import { VisionMetrics } from '@vision/metrics';
import { startWorkerRuntime } from '@vision/worker';
import { serveMetrics } from './metrics-server';

/** `npm run start:worker`: pulls frames from Redis, batches, infers, publishes; needs REDIS_URL. */
async function main(): Promise<void> {
  const config = loadConfigFromProcess();
  const log = createLogger(config, 'worker');
  try {
    if (!config.redisUrl) throw Object.assign(new Error('REDIS_URL must be set for a stand-alone worker'), { code: 'E_CONFIG' });
    const metrics = new VisionMetrics();
    const worker = await startWorkerRuntime(config, log, { metrics });
    const server = config.metricsPort ? await serveMetrics(metrics, config.metricsPort, config.host) : undefined;
    exitOnSignal(
      log,
      async () => {
        server?.close();
        await worker.stop();
      },
      config.frames.shutdownGraceMs + 5000,
    );
  } catch (err) {
    failStartup(log, err);
  }
}

void main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
