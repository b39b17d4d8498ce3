import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { EXECUTION_PROVIDERS, loadConfig, type ExecutionProviderName } from '@vision/config';
import { benchModelName, imageFixturesDir, modelsDir, repoRoot } from '@vision/testing';
import { loadBenchModel } from './bench-model';
import { measureRawOrt, type RawOrtRow } from './raw-ort';
import { table } from './stats';

/**
 * `npm run bench:model`: raw ONNX Runtime per batch size for the YOLOv8n-topology model, for the
 * serving graph (uint8 in, top-K out) and for the export as it is (float32 in, raw output back):
 * frames/s through `session.run`, bytes into and out of it per frame, and the host's own time per
 * frame making the input and reading the output. Decoding (sharp) is the same for both and timed
 * apart.
 */
async function main(): Promise<void> {
  const defaults = loadConfig({});
  const o = new Command('bench:model')
    .option('--model <file>', 'ONNX model', join(modelsDir(), `${benchModelName(640)}.onnx`))
    .option('--batches <list>', 'batch sizes', '1,2,4,8,16')
    .option('--seconds <n>', 'time per batch size', '3')
    .option('--min-runs <n>', 'fewest runs per batch size', '3')
    .option(
      '--threads <n>',
      "ONNX Runtime intra-op threads (0: ORT's own choice; default: the worker's)",
      String(defaults.model.intraOpThreads),
    )
    .option('--provider <name>', `execution provider (${EXECUTION_PROVIDERS.join(', ')})`, 'cpu')
    .option('--graphs <list>', 'serving, original', 'serving,original')
    .option('--out <file>', 'JSON results', join(repoRoot(), 'results', 'model-bench.json'))
    .parse()
    .opts<{
      model: string;
      batches: string;
      seconds: string;
      minRuns: string;
      threads: string;
      provider: string;
      graphs: string;
      out: string;
    }>();

  const batches = o.batches.split(',').map(Number);
  const dir = imageFixturesDir();
  const jpegs = readdirSync(dir)
    .filter((f) => /-(640x480|1280x720)\.jpg$/.test(f))
    .sort()
    .map((f) => readFileSync(join(dir, f)));
  const machine = `${cpus().length}× ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  console.log(
    `model ${o.model}, provider ${o.provider}; machine ${machine}; ${jpegs.length} real JPEGs (640×480 and 1280×720)\n`,
  );
  const rows: (RawOrtRow & { graph: string })[] = [];
  for (const graph of o.graphs.split(',')) {
    const model = await loadBenchModel(o.model, {
      batchSizes: batches,
      maxBatch: Math.max(...batches),
      intraOpThreads: Number(o.threads),
      executionProvider: o.provider as ExecutionProviderName,
      servingGraph: graph === 'serving',
    });
    for (const batch of batches) {
      const row = await measureRawOrt(model, jpegs, batch, { seconds: Number(o.seconds), minRuns: Number(o.minRuns) });
      rows.push({ graph, ...row });
      process.stdout.write(`${graph} batch ${batch}: ${row.inferFps.toFixed(1)} frames/s\n`);
    }
    await model.dispose();
  }
  const first = (graph: string) => rows.find((r) => r.graph === graph);
  console.log(
    `\n${table(
      [
        'graph',
        'batch',
        'runs',
        'infer p50 ms',
        'frames/s',
        'vs batch 1',
        'KB in/frame',
        'KB out/frame',
        'input ms/frame',
        'post ms/frame',
        'decode ms/frame',
      ],
      rows.map((r) => [
        r.graph,
        r.batch,
        r.runs,
        r.inferMsP50,
        r.inferFps,
        `${(r.inferFps / first(r.graph)!.inferFps).toFixed(2)}×`,
        r.bytesInPerFrame / 1024,
        r.bytesOutPerFrame / 1024,
        r.inputMsPerFrame,
        r.postprocessMsPerFrame,
        r.decodeMsPerFrame,
      ]),
    )}`,
  );
  const host = (graph: string) =>
    rows.filter((r) => r.graph === graph).reduce((a, r) => a + r.inputMsPerFrame + r.postprocessMsPerFrame, 0);
  if (first('serving') && first('original')) {
    console.log(
      '\nhost ms per frame (input + output), serving ÷ original, over all batch sizes: ' +
        (host('serving') / host('original')).toFixed(3),
    );
  }
  mkdirSync(join(o.out, '..'), { recursive: true });
  writeFileSync(o.out, JSON.stringify({ model: o.model, machine, rows }, null, 2));
  console.log(`\nwritten ${o.out}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
