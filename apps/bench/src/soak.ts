import { setTimeout as sleep } from 'node:timers/promises';
import { DETECT_PATH } from '@vision/wire';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRedis } from '@vision/redis';
import { redisKeys } from '@vision/transport';
import {
  imageFixturesDir,
  LoadClient,
  modelsDir,
  repoRoot,
  startService,
  startTestRedis,
  uniquePrefix,
  type ServiceProcess,
} from '@vision/testing';
import { opt, printTable, progress, runBench, type OptionValues } from './bench-runner';

/**
 * `npm run soak -- --minutes 10`: the distributed topology (own redis-server, 2 edges, 2 workers)
 * under steady camera load, sampling process RSS, stream length and pending count over time.
 * Not part of `npm test`; a leak shows as RSS or pending growing without bound.
 */
const options = {
  minutes: opt.positive('duration', 10),
  sampleS: opt.positive('seconds between samples', 10),
  cameras: opt.whole('load clients', 8, 1),
  fps: opt.positive('frames per second per camera (at most 2 in flight)', 5),
  model: opt.text('ONNX model', join(modelsDir(), 'yolov8n-topology-320.onnx'), '<file>'),
  out: opt.text('JSON samples', join(repoRoot(), 'results', 'soak.json'), '<file>'),
};

async function main(o: OptionValues<typeof options>): Promise<number> {
  const redis = await startTestRedis({ own: true });
  const prefix = uniquePrefix('soak');
  const common = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, LOG_LEVEL: 'warn' };
  const procs: ServiceProcess[] = [];
  const stopAll = async () => {
    await Promise.all(procs.map((p) => p.kill('SIGTERM')));
    await redis.stop();
  };
  try {
    for (const id of ['w1', 'w2']) {
      procs.push(
        await startService('worker', {
          ...common,
          LOG_LEVEL: 'info',
          WORKER_ID: id,
          MODEL_PATH: o.model,
          INTRA_OP_THREADS: '1',
        }),
      );
    }
    for (const id of ['e1', 'e2'])
      procs.push(await startService('edge', { ...common, LOG_LEVEL: 'info', EDGE_ID: id, TENANT_MAX_QUEUE: '64' }));
    const urls = procs.filter((p) => p.role === 'edge').map((p) => `ws://127.0.0.1:${p.port}${DETECT_PATH}`);
    const image = readFileSync(join(imageFixturesDir(), 'chelsea-640x480.jpg'));
    const clients = Array.from(
      { length: o.cameras },
      (_, i) => new LoadClient({ urls, image, intervalMs: 1000 / o.fps, streamId: `cam-${i}` }, i),
    );
    clients.forEach((c) => c.start());
    const admin = createRedis(redis.url, { name: 'soak-admin', offlineQueue: true });
    const samples: Record<string, number>[] = [];
    const started = Date.now();
    const end = started + o.minutes * 60_000;
    console.log(`soak: ${o.cameras} cameras × ${o.fps} fps for ${o.minutes} min; sampling every ${o.sampleS} s`);
    while (Date.now() < end) {
      await sleep(o.sampleS * 1000);
      const sample: Record<string, number> = { t_s: Math.round((Date.now() - started) / 1000) };
      for (const p of procs)
        sample[`${p.role}${procs.filter((q) => q.role === p.role).indexOf(p) + 1}_rss_mb`] = rssMb(p.proc.pid!);
      sample['stream_len'] = await admin.xlen(redisKeys(prefix).stream('default'));
      sample['pending'] = ((await admin.xpending(redisKeys(prefix).stream('default'), 'workers')) as [number])[0] ?? 0;
      sample['answered'] = clients.reduce((a, c) => a + c.log.length, 0);
      sample['results'] = clients.reduce((a, c) => a + c.log.filter((r) => r.outcome === 'result').length, 0);
      samples.push(sample);
      progress(
        Object.entries(sample)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
      );
    }
    const books = await Promise.all(clients.map((c) => c.stop(5000)));
    admin.disconnect();
    const unanswered = books.reduce((a, b) => a + b.unanswered.length, 0);
    printTable(
      Object.keys(samples[0] ?? {}),
      samples.map((s) => Object.values(s)),
    );
    console.log(`\nsent ${books.reduce((a, b) => a + b.sent, 0)}, unanswered ${unanswered}`);
    mkdirSync(join(o.out, '..'), { recursive: true });
    writeFileSync(o.out, JSON.stringify({ options: o, samples, unanswered }, null, 2));
    console.log(`written ${o.out}`);
    await stopAll();
    return unanswered ? 1 : 0;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return Math.round(kb / 1024);
  } catch {
    return NaN;
  }
}

runBench(
  { name: 'soak', about: 'The distributed topology under steady camera load, sampled over time.', options },
  main,
);
