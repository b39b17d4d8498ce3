import { join } from 'node:path';
import { processEnv } from '@vision/config';
import { modelsDir, signTestToken, startCluster } from '@vision/testing';

/** What the printed token may do: stream frames, and everything the site console offers. */
const OPERATOR_SCOPES = 'cameras:read cameras:write events:read events:write';

/**
 * `npm run cluster`: the docker-compose topology as local processes (redis-server, two edges,
 * two workers, a camera gateway, the events service, nginx with TLS and the site console) until
 * Ctrl-C. MODEL_PATH picks the model (default: the generated colour detector); JWT_SECRET the
 * edges' key (default: the test secret, printed with a token).
 */
async function main(): Promise<void> {
  const env = processEnv();
  const cluster = await startCluster({
    modelPath: env['MODEL_PATH'] ?? join(modelsDir(), 'colors-v8-dyn.onnx'),
    jwtSecret: env['JWT_SECRET'],
    operators: true,
  });
  const token = await signTestToken(
    { sub: 'local-cluster', scope: OPERATOR_SCOPES, exp: Math.floor(Date.now() / 1000) + 24 * 3600 },
    cluster.jwtSecret,
  );
  console.log(
    [
      `cluster up: nginx ${cluster.url} (self-signed: ${join(cluster.site.dir, 'certs', 'tls.crt')})`,
      `  edges:   ${cluster.edges.map((e) => `127.0.0.1:${e.port} (metrics ${e.metricsPort})`).join(', ')}`,
      `  workers: ${cluster.workers.map((w) => `metrics 127.0.0.1:${w.metricsPort}`).join(', ')}`,
      `  gateway: 127.0.0.1:${cluster.gateway?.port}, events: 127.0.0.1:${cluster.events?.port}`,
      `  redis:   ${cluster.redis.url}`,
      `  console: ${cluster.http}/console/ (sign in with the token below)`,
      `  a token valid for 24 h: ${token}`,
      'Ctrl-C stops everything.',
    ].join('\n'),
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void cluster.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
