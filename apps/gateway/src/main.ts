import { loadGatewayConfig } from '@vision/config';
import { runMain } from '@vision/runtime';
import { startGateway } from '@vision/gateway';
import { GatewayMetrics } from '@vision/metrics';

/**
 * `npm run start:gateway`: pulls the cameras of CAMERAS_FILE (or added through its API) and streams
 * their frames to GATEWAY_EDGE_URLS. SIGHUP re-reads the cameras file.
 */
runMain('gateway', async (config, log) => {
  const gateway = await startGateway({ config, gateway: loadGatewayConfig(), log, metrics: new GatewayMetrics() });
  process.on('SIGHUP', () => void gateway.reload('SIGHUP'));
  return () => gateway.stop();
});
