import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { TokenVerifier } from '@vision/auth';
import { metricsPortFor, type AppConfig, type GatewayConfig } from '@vision/config';
import { serveMetrics, type GatewayMetrics } from '@vision/metrics';
import { VisionError } from '@vision/wire';
import { serveApi } from './api-server';
import { CameraManager } from './camera-manager';
import { CamerasFile } from './cameras-file';
import { edgeLinkFactory } from './edge-link';
import { startRecordSweeper } from './record-sweeper';

export interface GatewayOptions {
  config: AppConfig;
  gateway: GatewayConfig;
  log: Logger;
  metrics: GatewayMetrics;
}

export interface Gateway {
  readonly manager: CameraManager;
  /** Re-reads the cameras file (SIGHUP); never rejects (a bad file is logged and changes nothing). */
  reload(why: string): Promise<unknown>;
  /** Stops every camera (children killed and reaped), then the API and ops servers. */
  stop(): Promise<void>;
}

/**
 * The camera gateway: pulls the cameras assigned to it, sends their frames to the edges, serves
 * its API on GATEWAY_PORT and Prometheus metrics, /healthz and /readyz on METRICS_PORT.
 */
export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const { config, gateway: gw, log } = o;
  const verifier = apiVerifier(config, log);
  const file = gw.camerasFile ? new CamerasFile(gw.camerasFile) : undefined;
  const manager = new CameraManager({
    config: gw,
    log,
    metrics: o.metrics,
    edge: edgeLinkFactory(gw, config.auth, log),
    file,
  });
  if (file) {
    // At start-up an invalid file is fatal (the operator is watching); later it is logged and ignored.
    const entries = await file.read().catch((err: VisionError) => {
      throw new VisionError('E_CONFIG', `CAMERAS_FILE: ${err.message}`);
    });
    await manager.apply(entries, 'start').catch((err: VisionError) => {
      throw new VisionError('E_CONFIG', `CAMERAS_FILE: ${err.message}`);
    });
  } else {
    log.warn('no CAMERAS_FILE: cameras added through the API are kept in memory only');
  }
  // The watcher's and SIGHUP's failures are logged by the manager (with their code); the API answers them.
  const reload = (why: string) => manager.reload(why).catch(() => undefined);
  const unwatch = file?.watch(gw.camerasFilePollMs, () => void reload('file changed'));
  const api = await serveApi({
    manager,
    verifier,
    log,
    host: config.host,
    port: gw.port,
    reload: () => manager.reload('api'),
  });
  const ops = await serveMetrics(o.metrics, metricsPortFor(config, 'gateway'), config.host, log, async () => ({
    api: api.listening,
  }));
  const stopSweeper = startRecordSweeper(gw.record, o.metrics, log);
  const port = (api.address() as AddressInfo).port;
  const metricsPort = (ops.address() as AddressInfo).port;
  log.info(
    {
      port,
      metricsPort,
      index: gw.index,
      count: gw.count,
      cameras: manager.size,
      edges: gw.edgeUrls.length,
      recordDir: gw.record.dir,
    },
    'gateway ready',
  );

  return {
    manager,
    reload,
    async stop() {
      unwatch?.();
      await manager.stop();
      await stopSweeper();
      await Promise.all(
        [api, ops].map(
          (s) =>
            new Promise((resolve) => {
              s.close(resolve);
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
}

/** The API authenticates like the edges (same key settings) unless AUTH_DISABLED=true. */
function apiVerifier(config: AppConfig, log: Logger): TokenVerifier | undefined {
  const a = config.auth;
  if (a.disabled === true) {
    log.warn(
      'AUTHENTICATION DISABLED (AUTH_DISABLED=true): ' +
        'anyone who can reach GATEWAY_PORT can add, change and remove cameras',
    );
    return undefined;
  }
  if (a.secret || a.jwksFile || a.jwksUrl) return TokenVerifier.create(a);
  throw new VisionError('E_CONFIG', 'the gateway API needs JWT_SECRET, JWKS_FILE or JWKS_URL (or AUTH_DISABLED=true)');
}
