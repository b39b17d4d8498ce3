import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { INFERENCE_NODE_FLAGS } from '@vision/config';
import { cleanupPrefix, modelsDir, repoRoot, startTestRedis, uniquePrefix, sleep } from '@vision/testing';

interface Probe {
  httpGet: { path: string; port: string };
}

/** The worker container's probes as deploy/k8s/worker.yaml declares them. */
function workerProbes(): Record<'startupProbe' | 'readinessProbe' | 'livenessProbe', Probe> {
  const deployment = parseAllDocuments(
    readFileSync(join(repoRoot(), 'deploy', 'k8s', 'worker.yaml'), 'utf8'),
  )[0].toJS() as {
    spec: { template: { spec: { containers: Record<string, Probe>[] } } };
  };
  const c = deployment.spec.template.spec.containers[0];
  return { startupProbe: c['startupProbe'], readinessProbe: c['readinessProbe'], livenessProbe: c['livenessProbe'] };
}

/**
 * Kubernetes holds traffic and the liveness probe back until the startup probe passes, so that
 * probe must mean "the model is loaded and warmed", not "the process answers HTTP". A real worker
 * with the full-size YOLOv8n topology (long enough a load to watch) is probed from the moment its
 * ops port listens.
 */
describe("the worker's startup and readiness probes (deploy/k8s/worker.yaml)", () => {
  const stops: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const s of stops.reverse()) await s();
  });

  it('answer not-ready until the model is loaded and warmed, then ready', { timeout: 60_000 }, async () => {
    const probes = workerProbes();
    expect(probes.startupProbe.httpGet.path).toBe(probes.readinessProbe.httpGet.path);
    expect(probes.startupProbe.httpGet.port).toBe('metrics');
    const redis = await startTestRedis();
    const prefix = uniquePrefix('probe');
    stops.push(
      () => redis.stop(),
      () => cleanupPrefix(redis.url, prefix),
    );
    const proc = spawn(
      process.execPath,
      [...INFERENCE_NODE_FLAGS, join(repoRoot(), 'apps', 'worker', 'dist', 'main.js')],
      {
        cwd: repoRoot(),
        env: {
          PATH: process.env['PATH'],
          REDIS_URL: redis.url,
          REDIS_PREFIX: prefix,
          MODEL_PATH: join(modelsDir(), 'yolov8n-topology-640.onnx'),
          METRICS_PORT: '0',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    stops.push(async () => proc.exitCode === null && proc.kill('SIGKILL'));
    const logs: Record<string, unknown>[] = [];
    let buffered = '';
    const opsPort = new Promise<number>((resolve) => {
      proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          const l = JSON.parse(line) as Record<string, unknown>;
          logs.push(l);
          if (l['msg'] === 'ops port listening') resolve(Number(l['metricsPort']));
        }
      });
    });
    const url = `http://127.0.0.1:${await opsPort}${probes.startupProbe.httpGet.path}`;
    const answers: { status: number; loaded: boolean; body: unknown }[] = [];
    const until = Date.now() + 45_000;
    while (Date.now() < until) {
      // What the log said before the probe was asked: an answer cannot be ahead of it.
      const loaded = logs.some((l) => l['msg'] === 'model loaded' && Number(l['warmedSessions']) > 0);
      const res = await fetch(url);
      answers.push({ status: res.status, loaded, body: await res.json() });
      if (res.status === 200) break;
      await sleep(5);
    }
    // Not ready while the model loads; then ready.
    expect(answers[0]).toMatchObject({ status: 503, loaded: false, body: { checks: { model: false } } });
    expect(answers.at(-1)!.status).toBe(200);
    // The ready answer came only once the model was loaded and every session had run once.
    const ready = answers.findIndex((a) => a.status === 200);
    expect(answers.slice(0, ready).every((a) => a.status === 503)).toBe(true);
    // The process logged both before answering ready; the pipe may deliver them a moment later.
    await expect.poll(() => logs.some((l) => l['msg'] === 'worker started')).toBe(true);
    expect(logs.some((l) => l['msg'] === 'model loaded' && Number(l['warmedSessions']) >= 1)).toBe(true);
    expect(logs.findIndex((l) => l['msg'] === 'model loaded')).toBeLessThan(
      logs.findIndex((l) => l['msg'] === 'worker started'),
    );
    // At the defaults a CPU worker fits the host while loading (not ready meanwhile), within its
    // bound, and serves on what the fit chose.
    const fit = logs.find((l) => l['msg'] === 'host fit') as { ms: number; chosen: Record<string, number> } | undefined;
    expect(fit?.ms).toBeLessThanOrEqual(5000);
    expect(logs.findIndex((l) => l['msg'] === 'host fit')).toBeLessThan(
      logs.findIndex((l) => l['msg'] === 'model loaded'),
    );
    await expect.poll(() => logs.find((l) => l['msg'] === 'model serving')).toMatchObject(fit!.chosen);
  });
});
