import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import WebSocket from 'ws';
import { PROTOCOL_V1, DETECT_PATH } from '@vision/wire';
import { rssMb, startService, startTestRedis, uniquePrefix } from '@vision/testing';
import { loadBenchImages } from './bench-cli';
import { runCameras } from './cameras';
import { CpuMeter } from './cpu-usage';
import { opt, printTable, runBench, type OptionValues } from './bench-runner';
import { summarize } from './summary';

/**
 * `npm run bench:edge`: what one edge process carries, for capacity planning (docs/scaling.md).
 * 1. memory per idle connection: RSS of the edge before and after opening N yolo.v1 sockets;
 * 2. frames and bytes per second through the edge into Redis and back, with a sink consumer that
 *    answers at once (no inference), and the edge's CPU per 100 frames/s.
 * Everything (clients, edge, Redis, sink) shares this machine, so the rates are lower bounds.
 */
const options = {
  connections: opt.whole('idle sockets to open', 2000, 1),
  cameras: opt.whole('open-loop cameras for the throughput run', 64, 1),
  fps: opt.positive('frames per second per camera', 20),
  seconds: opt.positive('duration of the throughput run', 10),
};

async function main(o: OptionValues<typeof options>): Promise<void> {
  const redis = await startTestRedis({ own: true });
  const prefix = uniquePrefix('edgecap');
  const n = o.connections;
  const edge = await startService(
    'edge',
    {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      HOST: '127.0.0.1',
      MAX_CONNECTIONS: String(n + 100),
      MAX_CONNECTIONS_PER_IP: String(n + 100),
      MAX_CONNECTIONS_PER_SUBJECT: String(n + 100),
      FRAMES_PER_SECOND: '1000',
      SUBJECT_FRAMES_PER_SECOND: '1000000',
      BYTES_PER_SECOND: String(1024 ** 3),
      SUBJECT_BYTES_PER_SECOND: String(64 * 1024 ** 3),
      MAX_QUEUE: '2000',
      STREAM_MAXLEN: '10000',
      TENANT_MAX_QUEUE: '2000',
      MAX_IN_FLIGHT: '4',
    },
    60_000,
  ).catch(async (err: unknown) => {
    await redis.stop();
    throw err;
  });
  const sink = spawn(process.execPath, [join(__dirname, 'sink-worker.js'), redis.url, prefix], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise((resolve) => sink.stdout!.once('data', resolve));
    const pid = edge.proc.pid!;
    const url = `ws://127.0.0.1:${edge.port}${DETECT_PATH}`;

    // 1. Idle connections.
    await sleep(1000);
    const rss0 = rssMb(pid);
    const sockets: WebSocket[] = [];
    for (let i = 0; i < n; i += 100) {
      await Promise.all(
        Array.from(
          { length: Math.min(100, n - i) },
          () =>
            new Promise<void>((resolve, reject) => {
              const ws = new WebSocket(url, [PROTOCOL_V1]);
              ws.once('message', () => resolve()); // the hello
              ws.once('error', reject);
              sockets.push(ws);
            }),
        ),
      );
    }
    await sleep(2000);
    const rss1 = rssMb(pid);
    for (const ws of sockets) ws.terminate();
    await sleep(2000);

    // 2. Throughput through the edge (the photos the bench uses: 1280×720 JPEGs).
    const images = loadBenchImages(/-1280x720\.jpg$/);
    const cpu = new CpuMeter({ edge: pid, redis: redis.pid(), sink: sink.pid, client: process.pid });
    const run = await runCameras({
      transport: 'ws-binary',
      baseUrl: `http://127.0.0.1:${edge.port}`,
      images,
      cameras: o.cameras,
      fps: o.fps,
      seconds: o.seconds,
      maxInFlight: 4,
    });
    const cores = cpu.since();
    const s = summarize(run);
    const mbPerS = (s.throughput * s.imageBytes) / 2 ** 20;
    printTable(
      ['measure', 'value'],
      [
        ['idle connections', n],
        ['edge RSS per idle connection, KiB', ((rss1 - rss0) * 1024) / n],
        ['frames/s through the edge (offered)', `${s.throughput.toFixed(0)} (${s.offeredFps.toFixed(0)})`],
        ['JPEG MiB/s through the edge', mbPerS],
        ['p95 ms', s.p95],
        ['edge CPU, cores', cores['edge']],
        ['edge CPU per 100 frames/s, cores', (cores['edge'] * 100) / s.throughput],
        ['redis CPU, cores', cores['redis']],
        ['not result', JSON.stringify(Object.fromEntries(Object.entries(s.outcomes).filter(([k]) => k !== 'result')))],
      ],
    );
  } finally {
    sink.kill('SIGTERM');
    await edge.kill('SIGKILL');
    await redis.stop();
  }
}

runBench(
  { name: 'bench:edge', about: 'What one edge process carries: memory per idle connection, frames/s.', options },
  main,
);
