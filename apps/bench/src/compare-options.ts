import { join } from 'node:path';
import { EXECUTION_PROVIDERS } from '@vision/config';
import { benchModelName, modelsDir, repoRoot } from '@vision/testing';
import { opt, type OptionValues } from './bench-runner';

/** What `npm run bench` can leave out. */
const SKIPPABLE = ['naive', 'redis', 'embedded', 'http', 'two-models', 'bulk'] as const;

/** `npm run bench`'s options. */
export const compareOptions = {
  model: opt.text('ONNX model', join(modelsDir(), `${benchModelName(640)}.onnx`), '<file>'),
  batches: opt.positives('raw ORT batch sizes', '1,2,4,8'),
  cameras: opt.positives('camera counts', '1,2,4,8'),
  fps: opt.positive('frames per second per camera', 5),
  lowFps: opt.positive('rate of the one-camera low-rate run (frames never queue)', 2),
  lowSeconds: opt.positive('duration of one low-rate segment', 10),
  lowRounds: opt.whole('low-rate segments per system, interleaved across systems so drift hits all alike', 3),
  seconds: opt.positive('seconds per load level', 9),
  maxBatch: opt.wholeOrUnset("worker MAX_BATCH (default: the worker's own, by provider)"),
  engines: opt.wholeOrUnset('worker ENGINES (sessions running batches at once; default: its own)'),
  threads: opt.wholeOrUnset('worker INTRA_OP_THREADS (default: its own)'),
  workerEnv: opt.settings(
    'more settings of the process that runs inference, KEY=VALUE,… (e.g. NODE_OPTIONS=--cpu-prof)',
    '',
  ),
  decodeConcurrency: opt.wholeOrUnset('worker DECODE_CONCURRENCY (default: its own, the CPUs available)'),
  images: opt.list('camera frames (1080: 1920×1080 versions of the 1280×720 fixtures)', ['720', '1080'], '720,1080'),
  noSpinSingleFrames: opt.flag(
    'worker SPIN_SINGLE_FRAMES=false (one-frame runs never spin, even when they find the engine idle)',
  ),
  originalGraph: opt.flag('worker SERVING_GRAPH=false (the export as it is: float32 NCHW in, every candidate out)'),
  naiveThreads: opt.whole(
    "the naive server's ONNX Runtime intra-op threads (0: ORT's default, what a one-file server gets)",
    0,
  ),
  provider: opt.choice('EXECUTION_PROVIDER for every system', EXECUTION_PROVIDERS, 'cpu'),
  skip: opt.list('systems and scenarios to leave out', SKIPPABLE, ''),
  bulkImages: opt.whole('images in the bulk job of the bulk scenario', 500, 1),
  bulkFps: opt.positive(
    'per-camera rate of the 4 cameras beside the bulk job (below capacity, so idle time exists)',
    1.5,
  ),
  out: opt.text('results folder', join(repoRoot(), 'results', 'bench'), '<dir>'),
};

export type CompareOptions = OptionValues<typeof compareOptions>;
