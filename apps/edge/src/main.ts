import { runMain } from '@vision/runtime';
import { startEdgeRuntime } from '@vision/edge';
import { VisionMetrics } from '@vision/metrics';

/** `npm run start:edge`: a stateless WebSocket edge; needs REDIS_URL. SIGHUP re-reads the model repository. */
runMain('edge', async (config, log) => {
  const edge = await startEdgeRuntime({ config, log, metrics: new VisionMetrics() });
  process.on('SIGHUP', () => {
    try {
      const repo = edge.catalog.reload();
      log.info(
        { models: repo.models.map((m) => `${m.id}@${m.version}`), default: repo.defaultId },
        'model repository reloaded',
      );
    } catch (err) {
      log.error({ err: (err as Error).message }, 'model repository not reloaded; the current one stays');
    }
  });
  return () => edge.stop();
});
