import { join } from 'node:path';
import { benchModelName, modelsDir } from '@vision/testing';
import { batchLadder } from '@vision/yolo';
import { loadBenchModel } from './bench-model';
import { EXECUTION_PROVIDERS } from '@vision/config';
import { loadBenchImages } from './bench-cli';
import { percentile } from './stats';
import { opt, printTable, ratio, runBench, type OptionValues } from './bench-runner';

/**
 * `npm run bench:shapes -- --provider cuda`: what a change of batch size between runs costs. The
 * same runs — a size repeated, then sizes changing every run, as batches that follow the load do —
 * on one session with exact sizes and on one session per size (`BATCH_SIZES`, the worker's GPU
 * default). On ONNX Runtime's CUDA provider the first pays 0.5–1 s per change
 * (microsoft/onnxruntime#23006); on CPU neither should.
 */
const SEQUENCE = [4, 4, 4, 4, 6, 6, 6, 6, 4, 6, 4, 6, 3, 8, 2, 8, 1, 5, 1, 5];

const options = {
  model: opt.text('ONNX model', join(modelsDir(), `${benchModelName(640)}.onnx`), '<file>'),
  provider: opt.choice('execution provider', EXECUTION_PROVIDERS, 'cpu'),
};

async function main(o: OptionValues<typeof options>): Promise<void> {
  const rows: (string | number)[][] = [];
  for (const [label, batchSizes] of [
    ['one session, exact sizes', []],
    ['a session per size', batchLadder(8)],
  ] as const) {
    const model = await loadBenchModel(o.model, {
      executionProvider: o.provider,
      batchSizes,
      maxBatch: 8,
    });
    const decoded = await Promise.all(
      loadBenchImages()
        .slice(0, 8)
        .map((b) => model.decode(b)),
    );
    await model.infer(decoded.slice(0, SEQUENCE[0]));
    const same: number[] = [];
    const changed: number[] = [];
    let last = SEQUENCE[0];
    for (const n of SEQUENCE) {
      const { inferenceMs } = await model.infer(decoded.slice(0, n));
      (n === last ? same : changed).push(inferenceMs);
      last = n;
    }
    await model.dispose();
    rows.push([
      label,
      percentile(same, 50),
      percentile(changed, 50),
      ratio(percentile(changed, 50), percentile(same, 50)),
    ]);
  }
  console.log(`model ${o.model}, provider ${o.provider}; sizes per run: ${SEQUENCE.join(' ')}\n`);
  printTable(['sessions', 'same size as last run: ms p50', 'size changed: ms p50', 'ratio'], rows);
}

runBench({ name: 'bench:shapes', about: 'What a change of batch size between runs costs.', options }, main);
