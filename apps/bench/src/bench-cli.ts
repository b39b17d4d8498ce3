import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { imageFixturesDir } from '@vision/testing';
import { BENCH_TRANSPORTS, runCameras, type BenchTransport } from './cameras';
import { summarize } from './summary';
import { diffCounters, scrapeWorker } from './worker-metrics';
import { table } from './stats';

/**
 * `npm run bench:run -- --url http://127.0.0.1:8080 --transport ws-binary --cameras 4 --fps 5`:
 * simulate cameras against a running edge and print one summary. `--token <jwt>` (from
 * `npm run token`) for edges with authentication on.
 */
export function loadBenchImages(pattern = /-(640x480|1280x720)\.jpg$/): Buffer[] {
  const dir = imageFixturesDir();
  return readdirSync(dir)
    .filter((f) => pattern.test(f))
    .sort()
    .map((f) => readFileSync(join(dir, f)));
}

/** Runs one load level with a progress bar on stderr. */
export async function runWithProgress(opts: Parameters<typeof runCameras>[0]) {
  const bar = new SingleBar(
    {
      format:
        `${opts.transport.padEnd(11)} ${String(opts.cameras).padStart(2)} cam × ${opts.fps} fps ` +
        '[{bar}] {value}/{total} frames',
      stream: process.stderr,
    },
    Presets.shades_classic,
  );
  bar.start(Math.ceil(opts.cameras * opts.fps * opts.seconds), 0);
  const run = await runCameras({ ...opts, onFrame: () => bar.increment() });
  bar.stop();
  return run;
}

async function main(): Promise<void> {
  const positive = (v: string) => {
    const n = Number(v);
    if (!(n > 0)) throw new InvalidArgumentError('expected a positive number');
    return n;
  };
  const o = new Command('bench:run')
    .requiredOption('--url <url>', 'edge base URL, e.g. http://127.0.0.1:8080')
    .option('--transport <t>', BENCH_TRANSPORTS.join(' | '), 'ws-binary')
    .option('--cameras <n>', 'simulated cameras', positive, 4)
    .option('--fps <n>', 'frames per second per camera', positive, 5)
    .option('--seconds <n>', 'duration', positive, 10)
    .option('--worker-metrics <url>', "a worker's /metrics URL, for busy fraction and batch sizes")
    .option('--token <jwt>', 'bearer token for edges with authentication on (sent as Authorization: Bearer)')
    .parse()
    .opts<{
      url: string;
      transport: string;
      cameras: number;
      fps: number;
      seconds: number;
      workerMetrics?: string;
      token?: string;
    }>();
  if (!BENCH_TRANSPORTS.includes(o.transport as BenchTransport))
    throw new Error(`--transport must be one of ${BENCH_TRANSPORTS.join(', ')}`);
  const before = o.workerMetrics ? await scrapeWorker(o.workerMetrics) : undefined;
  const run = await runWithProgress({
    transport: o.transport as BenchTransport,
    baseUrl: o.url,
    images: loadBenchImages(),
    cameras: o.cameras,
    fps: o.fps,
    seconds: o.seconds,
    ...(o.token ? { token: o.token } : {}),
  });
  const s = summarize(run);
  if (before && o.workerMetrics) {
    const d = diffCounters(before, await scrapeWorker(o.workerMetrics), run.elapsedMs);
    console.log(
      `worker busy ${(d.busyFraction * 100).toFixed(0)}%, ${d.batches} batches, ` +
        `mean ${d.meanBatch.toFixed(2)}, sizes ${JSON.stringify(d.histogram)}`,
    );
  }
  console.log(
    table(
      [
        'transport',
        'cameras',
        'offered fps',
        'results/s',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'bytes up/frame',
        'bytes down/frame',
        'outcomes',
      ],
      [
        [
          s.transport,
          s.cameras,
          s.offeredFps,
          s.throughput,
          s.p50,
          s.p95,
          s.p99,
          s.bytesUpPerFrame,
          s.bytesDownPerFrame,
          JSON.stringify(s.outcomes),
        ],
      ],
    ),
  );
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
