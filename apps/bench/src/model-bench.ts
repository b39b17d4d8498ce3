import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { benchModelName, imageFixturesDir, modelsDir, repoRoot } from '@vision/testing';
import { YoloModel } from '@vision/yolo';
import { EXECUTION_PROVIDERS, type ExecutionProviderName } from '@vision/config';
import { measureRawOrt, type RawOrtRow } from './raw-ort';
import { table } from './stats';

/**
 * `npm run bench:model`: raw ONNX Runtime throughput and latency per batch size for the
 * YOLOv8n-topology model, with preprocessing (decode + letterbox of real JPEGs) timed apart.
 */
async function main(): Promise<void> {
  const o = new Command('bench:model')
    .option('--model <file>', 'ONNX model', join(modelsDir(), `${benchModelName(640)}.onnx`))
    .option('--batches <list>', 'batch sizes', '1,2,4,8,16')
    .option('--seconds <n>', 'time per batch size', '3')
    .option('--min-runs <n>', 'fewest runs per batch size', '3')
    .option('--threads <n>', "ONNX Runtime intra-op threads (0: ORT's own choice; default: the worker's, one per available CPU)", String(availableParallelism()))
    .option('--provider <name>', `execution provider (${EXECUTION_PROVIDERS.join(', ')})`, 'cpu')
    .option('--out <file>', 'JSON results', join(repoRoot(), 'results', 'model-bench.json'))
    .parse()
    .opts<{ model: string; batches: string; seconds: string; minRuns: string; threads: string; provider: string; out: string }>();

  const batches = o.batches.split(',').map(Number);
  const model = await YoloModel.load({
    modelPath: o.model,
    batchSizes: batches,
    intraOpThreads: Number(o.threads),
    executionProvider: o.provider as ExecutionProviderName,
  });
  const dir = imageFixturesDir();
  const jpegs = readdirSync(dir)
    .filter((f) => /-(640x480|1280x720)\.jpg$/.test(f))
    .sort()
    .map((f) => readFileSync(join(dir, f)));
  const machine = `${cpus().length}× ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  console.log(`model ${o.model} (${model.description.inputWidth}×${model.description.inputHeight}, provider ${model.description.provider})`);
  console.log(`machine ${machine}; images: ${jpegs.length} real JPEGs (640×480 and 1280×720)\n`);

  const rows: RawOrtRow[] = [];
  for (const batch of batches) {
    const row = await measureRawOrt(model, jpegs, batch, { seconds: Number(o.seconds), minRuns: Number(o.minRuns) });
    rows.push(row);
    process.stdout.write(`batch ${batch}: ${row.inferFps.toFixed(1)} frames/s\n`);
  }
  console.log(
    `\n${table(
      ['batch', 'runs', 'infer p50 ms', 'infer p95 ms', 'infer frames/s', 'vs batch 1', 'preprocess ms/frame', 'postprocess ms/frame'],
      rows.map((r) => [
        r.batch, r.runs, r.inferMsP50, r.inferMsP95, r.inferFps, `${(r.inferFps / rows[0].inferFps).toFixed(2)}×`,
        r.preprocessMsPerFrame, r.postprocessMsPerFrame,
      ]),
    )}`,
  );
  mkdirSync(join(o.out, '..'), { recursive: true });
  writeFileSync(o.out, JSON.stringify({ model: o.model, description: model.description, machine, rows }, null, 2));
  console.log(`\nwritten ${o.out}`);
  await model.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
