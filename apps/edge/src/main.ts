import { createLogger, exitOnSignal, failStartup, loadConfigFromProcess } from '@vision/config';
import { startEdgeRuntime } from '@vision/edge';
import { VisionMetrics } from '@vision/metrics';

/** `npm run start:edge`: a stateless WebSocket edge; needs REDIS_URL. */
async function main(): Promise<void> {
  const config = loadConfigFromProcess();
  const log = createLogger(config, 'edge');
  try {
    if (!config.redisUrl) throw Object.assign(new Error('REDIS_URL must be set for a stand-alone edge'), { code: 'E_CONFIG' });
    const edge = await startEdgeRuntime({ config, log, metrics: new VisionMetrics() });
    exitOnSignal(log, () => edge.stop(), config.frames.shutdownGraceMs + 5000);
  } catch (err) {
    failStartup(log, err);
  }
}

void main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
