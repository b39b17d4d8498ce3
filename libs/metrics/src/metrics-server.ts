import { createServer, type Server } from 'node:http';
import type { VisionMetrics } from './vision-metrics';

/** Named readiness checks; the process is ready when every one is true. */
export type Readiness = () => Promise<Record<string, boolean>>;

/**
 * The private HTTP surface on METRICS_PORT: Prometheus scrape, liveness and (where the role gives
 * checks) readiness. Kept off the public port, since default metrics describe the host (file
 * descriptors, Node version, memory). It answers from the first moment of start-up, so a probe can
 * tell "alive, still loading the model" from "dead".
 */
export async function serveMetrics(
  metrics: Pick<VisionMetrics, 'text' | 'contentType'>,
  at: { port: number; explicit: boolean },
  host: string,
  log: { warn(fields: object, msg: string): void },
  readiness?: Readiness,
): Promise<Server> {
  const server = createServer((req, res) => {
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/metrics') {
      metrics.text().then(
        (body) => res.writeHead(200, { 'content-type': metrics.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else if (req.url === '/healthz') {
      json(200, { status: 'ok' });
    } else if (req.url === '/readyz' && readiness) {
      readiness().then(
        (checks) => {
          const ready = Object.values(checks).every(Boolean);
          json(ready ? 200 : 503, { ready, checks });
        },
        () => json(503, { ready: false }),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  const listen = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  try {
    return await listen(at.port);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
    if (at.explicit) {
      throw Object.assign(
        new Error(`METRICS_PORT ${at.port} is in use on ${host}: set METRICS_PORT to a free port (0: any)`),
        { code: 'E_CONFIG' },
      );
    }
    // A role's default port is taken (another process of the same role on this host): any free
    // port keeps this one serving; the log says which, for whoever scrapes it.
    const moved = await listen(0);
    log.warn(
      { defaultPort: at.port, metricsPort: (moved.address() as { port: number }).port },
      'default METRICS_PORT in use; serving metrics on another port (set METRICS_PORT to choose)',
    );
    return moved;
  }
}

/**
 * Whether the event loop kept up recently: a timer that should fire every `intervalMs` records
 * how late it ran, and the loop counts as stalled while the worst lateness of the last `windowMs`
 * exceeds `stallMs`. A fully blocked loop fails the probe by not answering at all.
 */
export function watchLoop(opts: { intervalMs: number; windowMs: number; stallMs: number }): {
  stalled(): boolean;
  stop(): void;
} {
  const { intervalMs: interval, windowMs: window, stallMs: stall } = opts;
  let expected = Date.now() + interval;
  let worstAt = 0;
  let worst = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    const late = now - expected;
    expected = now + interval;
    if (late >= worst || now - worstAt > window) {
      worst = late;
      worstAt = now;
    }
  }, interval);
  timer.unref();
  return {
    stalled: () => Date.now() - worstAt <= window && worst > stall,
    stop: () => clearInterval(timer),
  };
}
