import { join } from 'node:path';
import { processEnv } from '@vision/config';
import { modelsDir, signTestToken, startCluster } from '@vision/testing';

/**
 * `npm run cluster`: the docker-compose topology as local processes (redis-server, two edges,
 * two workers, nginx with TLS) until Ctrl-C. MODEL_PATH picks the model (default: the generated
 * colour detector); JWT_SECRET the edges' key (default: the test secret, printed with a token).
 */
async function main(): Promise<void> {
  const env = processEnv();
  const cluster = await startCluster({
    modelPath: env['MODEL_PATH'] ?? join(modelsDir(), 'colors-v8-dyn.onnx'),
    jwtSecret: env['JWT_SECRET'],
  });
  const token = await signTestToken(
    { sub: 'local-cluster', exp: Math.floor(Date.now() / 1000) + 24 * 3600 },
    cluster.jwtSecret,
  );
  console.log(
    [
      `cluster up: nginx ${cluster.url} (self-signed: ${join(cluster.site.dir, 'certs', 'tls.crt')})`,
      `  edges:   ${cluster.edges.map((e) => `127.0.0.1:${e.port} (metrics ${e.metricsPort})`).join(', ')}`,
      `  workers: ${cluster.workers.map((w) => `metrics 127.0.0.1:${w.metricsPort}`).join(', ')}`,
      `  redis:   ${cluster.redis.url}`,
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
