import { runMain } from '@vision/config';
import { startEdgeRuntime } from '@vision/edge';
import { VisionMetrics } from '@vision/metrics';

/** `npm run start:edge`: a stateless WebSocket edge; needs REDIS_URL. */
runMain('edge', async (config, log) => {
  const edge = await startEdgeRuntime({ config, log, metrics: new VisionMetrics() });
  return () => edge.stop();
});
