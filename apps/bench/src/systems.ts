import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import sharp from 'sharp';
import { freePort, startService, startTestRedis, uniquePrefix, type ServiceProcess } from '@vision/testing';
import { loadBenchImages } from './bench-cli';
import type { BenchTransport } from './cameras';

/** A system under test: where its cameras connect, and what is measured of it. */
export interface System {
  name: string;
  baseUrl: string;
  transport: BenchTransport;
  /** The worker's (or embedded server's) metrics, and the pids whose CPU is measured. */
  metrics?: { worker: string; pids: Record<string, number | undefined> };
  stop?: () => Promise<void>;
}

/** The 1280×720 fixtures and a 1920×1080 version of each (real-photo sizes, not only 640×480). */
export async function benchImages(heights: string[]): Promise<{ width: number; height: number; bytes: Buffer }[]> {
  const hd = loadBenchImages(/-1280x720\.jpg$/);
  const out: { width: number; height: number; bytes: Buffer }[] = [];
  for (const b of hd) {
    if (heights.includes('720')) out.push({ width: 1280, height: 720, bytes: b });
    if (heights.includes('1080'))
      out.push({
        width: 1920,
        height: 1080,
        bytes: await sharp(b).resize(1920, 1080).jpeg({ quality: 85 }).toBuffer(),
      });
  }
  return out;
}

/** This project in Redis mode (edge + worker processes, own redis-server) or embedded mode (one process). */
export async function startProject(
  mode: 'redis' | 'embedded',
  o: {
    model: string;
    maxBatch?: number;
    engines?: number;
    threads?: number;
    /** More settings of the process that runs inference (the worker, or the embedded server). */
    workerEnv?: Record<string, string>;
    decodeConcurrency?: number;
    noSpinSingleFrames?: boolean;
    originalGraph?: boolean;
  },
  provider: string,
  env: Record<string, string> = {},
): Promise<System & { stop: () => Promise<void> }> {
  const redis = mode === 'redis' ? await startTestRedis({ own: true }) : undefined;
  const metricsPort = await freePort();
  const common = {
    ...(redis ? { REDIS_URL: redis.url, REDIS_PREFIX: uniquePrefix('bench') } : {}),
    MODEL_PATH: o.model,
    LOG_LEVEL: 'info',
    EXECUTION_PROVIDER: provider,
    // The product as it starts (the harness turns the fit off for tests).
    HOST_FIT: 'true',
    ...(o.engines ? { ENGINES: String(o.engines) } : {}),
    ...(o.threads ? { INTRA_OP_THREADS: String(o.threads) } : {}),
    ...(o.maxBatch ? { MAX_BATCH: String(o.maxBatch) } : {}),
    ...(o.noSpinSingleFrames ? { SPIN_SINGLE_FRAMES: 'false' } : {}),
    ...(o.originalGraph ? { SERVING_GRAPH: 'false' } : {}),
    ...(o.decodeConcurrency ? { DECODE_CONCURRENCY: String(o.decodeConcurrency) } : {}),
    // The load generator is one address (one tenant without auth): let it use the whole backlog.
    MAX_QUEUE: '64',
    TENANT_MAX_QUEUE: '64',
    SUBJECT_FRAMES_PER_SECOND: '100000',
    FRAMES_PER_SECOND: '1000',
    BULK_MAX_IMAGES: '100000',
    BULK_MAX_UPLOAD_BYTES: String(1024 * 1024 * 1024),
    BULK_MAX_STORED_BYTES: String(2 * 1024 * 1024 * 1024),
    ...env,
  };
  const procs: ServiceProcess[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await Promise.all(procs.map((p) => p.kill('SIGTERM')));
      await redis?.stop();
    })());
  try {
    // A GPU session's first start (CUDA context, cuDNN) takes far longer than a CPU one.
    const startMs = provider === 'cpu' ? 30_000 : 180_000;
    const worker =
      mode === 'redis'
        ? await startService(
            'worker',
            { ...common, ...o.workerEnv, METRICS_PORT: String(metricsPort), HOST: '127.0.0.1' },
            startMs,
          )
        : undefined;
    if (worker) procs.push(worker);
    const edge = await startService(
      mode === 'redis' ? 'edge' : 'server',
      mode === 'redis' ? common : { ...common, ...o.workerEnv, METRICS_PORT: String(metricsPort), HOST: '127.0.0.1' },
      startMs,
    );
    procs.push(edge);
    return {
      name: mode,
      baseUrl: `http://127.0.0.1:${edge.port}`,
      transport: 'ws-binary',
      metrics: {
        worker: `http://127.0.0.1:${metricsPort}/metrics`,
        pids: { worker: (worker ?? edge).proc.pid, edge: edge.proc.pid, redis: redis?.pid(), client: process.pid },
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Uploads a bulk job of `count` images (the bench photos, cycled) as one multipart request. */
export async function submitBulkJob(baseUrl: string, jpegs: Buffer[], count: number): Promise<string> {
  const form = new FormData();
  for (let i = 0; i < count; i++)
    form.append('image', new Blob([new Uint8Array(jpegs[i % jpegs.length])], { type: 'image/jpeg' }), `${i}.jpg`);
  const r = await fetch(`${baseUrl}/v1/jobs`, { method: 'POST', body: form });
  if (r.status !== 202) throw new Error(`bulk job refused: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { id: string }).id;
}

export async function startNaive(
  model: string,
  provider: string,
  threads: number,
): Promise<{ port: number; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [join(__dirname, 'naive-server.js'), model, '0', provider, String(threads)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    proc
      .stdout!.setEncoding('utf8')
      .once('data', (line: string) => resolve((JSON.parse(line) as { port: number }).port));
    proc.once('exit', (code) => reject(new Error(`naive server exited (${code})`)));
  });
  return { port, proc };
}
