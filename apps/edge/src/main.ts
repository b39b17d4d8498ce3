import { runMain } from '@vision/config';
import { startEdgeRuntime } from '@vision/edge';
import { VisionMetrics } from '@vision/metrics';

/** `npm run start:edge`: a stateless WebSocket edge; needs REDIS_URL. */
runMain('edge', async (config, log) => {
  if (!config.redisUrl) throw Object.assign(new Error('REDIS_URL must be set for a stand-alone edge'), { code: 'E_CONFIG' });
  const edge = await startEdgeRuntime({ config, log, metrics: new VisionMetrics() });
  return () => edge.stop();
});
