import { join } from 'node:path';
import { Command } from 'commander';
import { benchModelName, modelsDir, repoRoot } from '@vision/testing';

/** `npm run bench`'s options, as commander gives them (numbers as strings). */
export interface CompareOptions {
  model: string;
  batches: string;
  cameras: string;
  fps: string;
  lowFps: string;
  lowSeconds: string;
  lowRounds: string;
  seconds: string;
  maxBatch?: string;
  engines: string;
  decodeConcurrency?: string;
  images: string;
  spinSingleFrames?: boolean;
  originalGraph?: boolean;
  naiveThreads: string;
  provider: string;
  skip: string;
  out: string;
  bulkImages: string;
  bulkFps: string;
}

export function parseCompareOptions(): CompareOptions {
  return new Command('bench')
    .option('--model <file>', 'ONNX model', join(modelsDir(), `${benchModelName(640)}.onnx`))
    .option('--batches <list>', 'raw ORT batch sizes', '1,2,4,8')
    .option('--cameras <list>', 'camera counts', '1,2,4,8')
    .option('--fps <n>', 'frames per second per camera', '5')
    .option('--low-fps <n>', 'rate of the one-camera low-rate run (frames never queue)', '2')
    .option('--low-seconds <n>', 'duration of one low-rate segment', '10')
    .option('--low-rounds <n>', 'low-rate segments per system, interleaved across systems so drift hits all alike', '3')
    .option('--seconds <n>', 'seconds per load level', '9')
    .option('--max-batch <n>', "worker MAX_BATCH (default: the worker's own, by provider)")
    .option('--engines <n>', 'worker ENGINES (sessions running batches at once)', '1')
    .option('--decode-concurrency <n>', 'worker DECODE_CONCURRENCY (default: its own, the CPUs available)')
    .option(
      '--images <list>',
      'camera frames: 720 (the 1280×720 fixtures), 1080 (1920×1080 versions of them)',
      '720,1080',
    )
    .option(
      '--no-spin-single-frames',
      'worker SPIN_SINGLE_FRAMES=false (one-frame runs never spin, even when they find the engine idle)',
    )
    .option(
      '--original-graph',
      'worker SERVING_GRAPH=false (the export as it is: float32 NCHW in, every candidate out)',
    )
    .option(
      '--naive-threads <n>',
      "the naive server's ONNX Runtime intra-op threads (0: ORT's default, what a one-file server gets)",
      '0',
    )
    .option('--provider <name>', 'EXECUTION_PROVIDER for every system', 'cpu')
    .option('--skip <list>', 'systems and scenarios to leave out: naive, redis, embedded, http, two-models, bulk', '')
    .option('--bulk-images <n>', 'images in the bulk job of the bulk scenario', '500')
    .option(
      '--bulk-fps <n>',
      'per-camera rate of the 4 cameras beside the bulk job (below capacity, so idle time exists)',
      '1.5',
    )
    .option('--out <dir>', 'results folder', join(repoRoot(), 'results', 'bench'))
    .parse()
    .opts<CompareOptions>();
}
