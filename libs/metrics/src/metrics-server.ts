import { createServer, type Server } from 'node:http';
import type { VisionMetrics } from './vision-metrics';

/**
 * The private HTTP surface on METRICS_PORT: Prometheus scrape and liveness. Kept off the public
 * port, since default metrics describe the host (file descriptors, Node version, memory).
 */
export function serveMetrics(metrics: VisionMetrics, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      metrics.text().then(
        (body) => res.writeHead(200, { 'content-type': metrics.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}
