import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { imageFixturesDir } from '@vision/testing';
import { BENCH_TRANSPORTS, runCameras } from './cameras';
import { opt, printTable, runBench, type OptionValues } from './bench-runner';
import { summarize } from './summary';
import { diffCounters, scrapeWorker } from './worker-metrics';

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

const options = {
  url: opt.required('edge base URL, e.g. http://127.0.0.1:8080', '<url>'),
  transport: opt.choice('how frames travel', BENCH_TRANSPORTS, 'ws-binary'),
  cameras: opt.whole('simulated cameras', 4, 1),
  fps: opt.positive('frames per second per camera', 5),
  seconds: opt.positive('duration', 10),
  workerMetrics: opt.optional("a worker's /metrics URL, for busy fraction and batch sizes", '<url>'),
  token: opt.optional('bearer token for edges with authentication on (sent as Authorization: Bearer)', '<jwt>'),
};

async function main(o: OptionValues<typeof options>): Promise<void> {
  const before = o.workerMetrics ? await scrapeWorker(o.workerMetrics) : undefined;
  const run = await runWithProgress({
    transport: o.transport,
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
  printTable(
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
  );
}

if (require.main === module) {
  runBench(
    { name: 'bench:run', about: 'Simulated cameras against a running edge; prints one summary.', options },
    main,
  );
}
