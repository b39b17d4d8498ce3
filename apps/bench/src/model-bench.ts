import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { EXECUTION_PROVIDERS, loadConfig } from '@vision/config';
import { YoloModel, type FitReport } from '@vision/yolo';
import { benchModelName, imageFixturesDir, modelsDir, repoRoot } from '@vision/testing';
import { loadBenchModel, workerModelOptions } from './bench-model';
import { measureRawOrt, type RawOrtRow } from './raw-ort';
import { table } from './stats';
import { opt, progress, ratio, runBench, type OptionValues } from './bench-runner';

const GRAPHS = ['serving', 'original'] as const;
const options = {
  model: opt.text('ONNX model', join(modelsDir(), `${benchModelName(640)}.onnx`), '<file>'),
  batches: opt.positives('batch sizes', '1,2,4,8,16'),
  seconds: opt.positive('time per batch size', 3),
  minRuns: opt.whole('fewest runs per batch size', 3, 1),
  threads: opt.whole(
    "ONNX Runtime intra-op threads (0: ORT's own choice; default: the worker's)",
    loadConfig({}).model.intraOpThreads,
  ),
  provider: opt.choice('execution provider', EXECUTION_PROVIDERS, 'cpu'),
  graphs: opt.list('graphs to measure', GRAPHS, GRAPHS.join(',')),
  fit: opt.flag("first load the model as a CPU worker does, with its host fit, and print the fit's figures"),
  out: opt.text('JSON results', join(repoRoot(), 'results', 'model-bench.json'), '<file>'),
};

/**
 * `npm run bench:model`: raw ONNX Runtime per batch size for the YOLOv8n-topology model, for the
 * serving graph (uint8 in, top-K out) and for the export as it is (float32 in, raw output back):
 * frames/s through `session.run`, bytes into and out of it per frame, and the host's own time per
 * frame making the input and reading the output. Decoding (sharp) is the same for both and timed
 * apart.
 */
async function main(o: OptionValues<typeof options>): Promise<void> {
  const batches = o.batches;
  const dir = imageFixturesDir();
  const jpegs = readdirSync(dir)
    .filter((f) => /-(640x480|1280x720)\.jpg$/.test(f))
    .sort()
    .map((f) => readFileSync(join(dir, f)));
  const machine = `${cpus().length}× ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  console.log(
    `model ${o.model}, provider ${o.provider}; machine ${machine}; ${jpegs.length} real JPEGs (640×480 and 1280×720)\n`,
  );
  const fit = o.fit ? await hostFit(o.model) : undefined;
  const rows: (RawOrtRow & { graph: string })[] = [];
  for (const graph of o.graphs) {
    const model = await loadBenchModel(o.model, {
      batchSizes: batches,
      maxBatch: Math.max(...batches),
      intraOpThreads: o.threads,
      executionProvider: o.provider,
      servingGraph: graph === 'serving',
    });
    for (const batch of batches) {
      const row = await measureRawOrt(model, jpegs, batch, { seconds: o.seconds, minRuns: o.minRuns });
      rows.push({ graph, ...row });
      progress(`${graph} batch ${batch}: ${row.inferFps.toFixed(1)} frames/s`);
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
        ratio(r.inferFps, first(r.graph)!.inferFps),
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
  writeFileSync(o.out, JSON.stringify({ model: o.model, machine, fit, rows }, null, 2));
  console.log(`\nwritten ${o.out}`);
}

/** The host fit's report for `model`, loaded as a CPU worker loads it at the defaults (HOST_FIT on). */
async function hostFit(model: string): Promise<FitReport> {
  const loaded = await YoloModel.load(workerModelOptions(model));
  const report = loaded.fitReport!;
  await loaded.dispose();
  const measured = report.measured.map(
    (m) => `${m.engines}×${m.intraOpThreads} batch ${m.maxBatch}: ${m.framesPerSecond.toFixed(1)}`,
  );
  const chosen = `${report.chosen.engines}×${report.chosen.intraOpThreads} batch ${report.chosen.maxBatch}`;
  console.log(`host fit: ${report.ms} ms, chose ${chosen}; frames/s ${measured.join(', ')}\n`);
  return report;
}

runBench({ name: 'bench:model', about: 'Raw ONNX Runtime per batch size, serving graph and export.', options }, main);
