import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { benchModelName, modelsDir, repoRoot } from '@vision/testing';
import type { ExecutionProviderName } from '@vision/config';
import { loadBenchModel } from './bench-model';
import { runCameras } from './cameras';
import { CpuMeter } from './cpu-usage';
import { GpuMeter } from './gpu-usage';
import { runWithProgress } from './bench-cli';
import { benchImages, startNaive, startProject, submitBulkJob, type System } from './systems';
import { measureRawOrt, type RawOrtRow } from './raw-ort';
import { table } from './stats';
import { summarize, type RunSummary } from './summary';
import { lineChart } from './svg-chart';
import { diffCounters, eventLoopP99Ms, scrapeTotal, scrapeWorker } from './worker-metrics';

type Row = RunSummary & {
  system: string;
  gpuUtil?: number;
  busyFraction?: number;
  meanBatch?: number;
  loopP99Ms?: number;
  cpuCores?: Record<string, number>;
};

/**
 * `npm run bench`: one self-contained comparison on this machine, in one run.
 * 1. raw in-process ONNX Runtime throughput of the model per batch size (the ceiling, with the
 *    worker's default threads: one per available CPU);
 * 2. a naive seed-style server (per-message decode + batch-1 inference, no queue bound, no drops);
 * 3. this project in Redis mode (edge + worker processes, own redis-server) and embedded mode;
 * all under the same open-loop cameras (they send at their rate whether or not replies came), at a
 * low rate with one camera and at 1, 2, 4, 8 cameras; then ratios to the naive server, all from
 * this run. Nothing is compared against a number measured elsewhere.
 */
async function main(): Promise<void> {
  const o = new Command('bench')
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
    .opts<{
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
    }>();
  const images = await benchImages(o.images.split(','));
  const provider = o.provider as ExecutionProviderName;
  const skip = new Set(o.skip.split(',').filter(Boolean));
  const cams = o.cameras.split(',').map(Number);
  const maxCams = Math.max(...cams);
  const machine = `${cpus().length}× ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  console.error(
    `machine: ${machine}\nmodel: ${o.model} (${provider})\nimages: ${images.map((i) => `${i.width}×${i.height} ${(i.bytes.length / 1024).toFixed(0)} KiB`).join(', ')}\n`,
  );
  const jpegs = images.map((i) => i.bytes);

  // 1. Raw ONNX Runtime, in this process, before any service runs (no contention).
  const batches = o.batches.split(',').map(Number);
  const model = await loadBenchModel(o.model, {
    executionProvider: provider,
    batchSizes: batches,
    maxBatch: Math.max(...batches),
  });
  const raw: RawOrtRow[] = [];
  for (const b of batches) {
    raw.push(await measureRawOrt(model, jpegs, b, { seconds: 4, minRuns: 3 }));
    console.error(`raw ORT batch ${b}: ${raw[raw.length - 1].inferFps.toFixed(1)} frames/s`);
  }
  await model.dispose();

  const rows: Row[] = [];
  const twoModels: { scenario: string; resultsPerS: number; p95: number; meanBatch: string; busy: number }[] = [];
  const bulkRows: {
    scenario: string;
    resultsPerS: number;
    p50: number;
    p95: number;
    busy: number;
    meanBatch: number;
    bulkPerS: number;
  }[] = [];
  const systems: System[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  try {
    // 2. Every system up at once (idle ones cost nothing), so the low-rate segments can interleave.
    if (!skip.has('naive')) {
      const naive = await startNaive(o.model, provider, o.naiveThreads);
      cleanup.push(async () => void naive.proc.kill('SIGTERM'));
      systems.push({ name: 'naive', baseUrl: `http://127.0.0.1:${naive.port}`, transport: 'ws-seed' });
    }
    for (const mode of ['redis', 'embedded'] as const) {
      if (skip.has(mode)) continue;
      const sys = await startProject(mode, o, provider);
      cleanup.push(sys.stop);
      systems.push(sys);
    }
    for (const sys of systems)
      await runWithProgress({
        transport: sys.transport,
        baseUrl: sys.baseUrl,
        images: jpegs,
        cameras: 1,
        fps: 2,
        seconds: 2,
        maxInFlight: Infinity,
      }); // warm-up

    // 3. One camera at a low rate: segments interleaved across systems, pooled per system.
    const low = new Map<string, Awaited<ReturnType<typeof runWithProgress>>[]>();
    for (let round = 0; round < Number(o.lowRounds); round++) {
      for (const sys of systems) {
        const run = await runWithProgress({
          transport: sys.transport,
          baseUrl: sys.baseUrl,
          images: jpegs,
          cameras: 1,
          fps: Number(o.lowFps),
          seconds: Number(o.lowSeconds),
          maxInFlight: Infinity,
        });
        low.set(sys.name, [...(low.get(sys.name) ?? []), run]);
      }
    }
    for (const sys of systems) {
      const runs = low.get(sys.name);
      if (!runs) continue; // --low-rounds 0
      const pooled = {
        ...runs[0],
        elapsedMs: runs.reduce((a, r) => a + r.elapsedMs, 0),
        frames: runs.flatMap((r) => r.frames),
        bytesUp: 0,
        bytesDown: 0,
      };
      rows.push({ ...summarize(pooled), system: `${sys.name} (low rate)` });
    }

    // 4. Load levels, open loop, one system at a time.
    for (const sys of systems) {
      for (const cameras of cams) {
        const before = sys.metrics ? await scrapeWorker(sys.metrics.worker) : undefined; // also restarts the loop-delay histogram
        const cpu = sys.metrics ? new CpuMeter(sys.metrics.pids) : undefined;
        const gpu = provider === 'cpu' ? undefined : new GpuMeter();
        const run = await runWithProgress({
          transport: sys.transport,
          baseUrl: sys.baseUrl,
          images: jpegs,
          cameras,
          fps: Number(o.fps),
          seconds: Number(o.seconds),
          maxInFlight: Infinity,
        });
        const row: Row = { ...summarize(run), system: sys.name, gpuUtil: gpu?.stop() };
        if (sys.metrics && before) {
          // Each scrape restarts prom-client's loop-delay histogram: read the run's p99 first.
          const loopP99Ms = await eventLoopP99Ms(sys.metrics.worker);
          const d = diffCounters(before, await scrapeWorker(sys.metrics.worker), run.elapsedMs);
          Object.assign(row, {
            busyFraction: d.busyFraction,
            meanBatch: d.meanBatch,
            loopP99Ms,
            cpuCores: cpu!.since(),
          });
        }
        rows.push(row);
      }
      if (sys.name === 'redis' && !skip.has('http')) {
        // The transport comparison: the same cameras with a two-frame window, WebSocket vs HTTP.
        for (const transport of ['ws-binary', 'http-base64'] as const) {
          const run = await runWithProgress({
            transport,
            baseUrl: sys.baseUrl,
            images: jpegs,
            cameras: maxCams,
            fps: Number(o.fps),
            seconds: Number(o.seconds),
            maxInFlight: 2,
          });
          rows.push({ ...summarize(run), system: `redis, ${transport}, window 2` });
        }
      }
    }
    // 5. Two models on one worker: the same load on one model, then split over two (the same file
    // under two ids, so only the batching differs): what splitting batches across models costs.
    if (!skip.has('two-models')) {
      const repo = join(o.out, 'two-models.json');
      mkdirSync(o.out, { recursive: true });
      writeFileSync(
        repo,
        JSON.stringify({
          models: [
            { id: 'a', path: o.model },
            { id: 'b', path: o.model },
          ],
        }),
      );
      const sys = await startProject('redis', o, provider, { MODELS_FILE: repo });
      cleanup.push(sys.stop);
      const load = {
        transport: 'ws-binary' as const,
        baseUrl: sys.baseUrl,
        images: jpegs,
        fps: Number(o.fps),
        seconds: Number(o.seconds),
        maxInFlight: Infinity,
      };
      for (const split of [false, true]) {
        const before = await Promise.all(['a', 'b'].map((m) => scrapeWorker(sys.metrics!.worker, m)));
        const runs = split
          ? await Promise.all(['a', 'b'].map((model) => runCameras({ ...load, cameras: maxCams / 2, model })))
          : [await runCameras({ ...load, cameras: maxCams, model: 'a' })];
        const after = await Promise.all(['a', 'b'].map((m) => scrapeWorker(sys.metrics!.worker, m)));
        const batches = ['a', 'b'].map((_, i) => diffCounters(before[i], after[i], runs[0].elapsedMs));
        const summaries = runs.map((r) => summarize(r));
        twoModels.push({
          scenario: split ? `${maxCams / 2} + ${maxCams / 2} cameras on models a + b` : `${maxCams} cameras on model a`,
          resultsPerS: summaries.reduce((a, s) => a + s.throughput, 0),
          p95: Math.max(...summaries.map((s) => s.p95)),
          meanBatch: batches.map((b) => (b.batches ? b.meanBatch.toFixed(2) : '-')).join(' / '),
          busy: batches.reduce((a, b) => a + b.busyFraction, 0),
        });
      }
      await sys.stop();
    }
    // 6. Bulk backfill: 4 cameras below capacity, alone and then beside a bulk job, with the default
    // policy (bulk yields to forecast live frames) and with BULK_YIELD=false (bulk fills every idle
    // moment): what the job costs real-time latency, and how much idle time it fills.
    for (const policy of skip.has('bulk') ? [] : (['yield', 'fill'] as const)) {
      const sys = await startProject('redis', o, provider, policy === 'fill' ? { BULK_YIELD: 'false' } : {});
      cleanup.push(sys.stop);
      const load = {
        transport: 'ws-binary' as const,
        baseUrl: sys.baseUrl,
        images: jpegs,
        cameras: 4,
        fps: Number(o.bulkFps),
        seconds: Number(o.seconds),
        maxInFlight: Infinity,
      };
      await runCameras({ ...load, seconds: 2 }); // warm-up
      for (const withJob of policy === 'yield' ? [false, true] : [true]) {
        if (withJob) await submitBulkJob(sys.baseUrl, jpegs, Number(o.bulkImages));
        const before = await scrapeWorker(sys.metrics!.worker);
        const bulkBefore = await scrapeTotal(sys.metrics!.worker, 'vision_bulk_images_total');
        const run = await runWithProgress(load);
        const d = diffCounters(before, await scrapeWorker(sys.metrics!.worker), run.elapsedMs);
        const s = summarize(run);
        bulkRows.push({
          scenario: withJob
            ? `4 cameras × ${o.bulkFps} fps + a ${o.bulkImages}-image job (${policy === 'yield' ? 'bulk yields' : 'BULK_YIELD=false'})`
            : `4 cameras × ${o.bulkFps} fps alone`,
          resultsPerS: s.throughput,
          p50: s.p50,
          p95: s.p95,
          busy: d.busyFraction,
          meanBatch: d.meanBatch,
          bulkPerS:
            ((await scrapeTotal(sys.metrics!.worker, 'vision_bulk_images_total')) - bulkBefore) /
            (run.elapsedMs / 1000),
        });
      }
      // Its job would still be running: it must not share the CPU with the next measurement.
      await sys.stop();
    }
  } finally {
    for (const c of cleanup.reverse()) await c();
  }

  // 7. Ratios to the naive server, all from this run.
  const find = (system: string, cameras: number) => rows.find((r) => r.system === system && r.cameras === cameras);
  const naiveLow = find('naive (low rate)', 1);
  const ratios: Record<string, number> = {};
  for (const sys of ['redis', 'embedded']) {
    const low = find(`${sys} (low rate)`, 1);
    if (low && naiveLow) ratios[`${sys}: p50 ÷ naive p50, 1 camera at ${o.lowFps} fps`] = low.p50 / naiveLow.p50;
    for (const c of cams) {
      const mine = find(sys, c);
      const base = find('naive', c);
      if (!mine || !base) continue;
      ratios[`${sys}: results/s ÷ naive, ${c} cameras × ${o.fps} fps`] = mine.throughput / base.throughput;
      ratios[`${sys}: p95 ÷ naive p95, ${c} cameras`] = mine.p95 / base.p95;
      if (Number.isFinite(mine.gpuUtil) && Number.isFinite(base.gpuUtil))
        ratios[`${sys}: GPU utilisation ÷ naive, ${c} cameras`] = mine.gpuUtil! / base.gpuUtil!;
    }
    const sat = find(sys, maxCams);
    if (sat)
      ratios[`${sys}: last-third p95 ÷ first-third p95, ${maxCams} cameras`] = sat.p95LastThird / sat.p95FirstThird;
  }
  const naiveSat = find('naive', maxCams);
  if (naiveSat)
    ratios[`naive: last-third p95 ÷ first-third p95, ${maxCams} cameras`] =
      naiveSat.p95LastThird / naiveSat.p95FirstThird;
  const wsW = find('redis, ws-binary, window 2', maxCams);
  const httpW = find('redis, http-base64, window 2', maxCams);
  if (wsW && httpW) {
    ratios[`ws-binary ÷ http-base64 results/s, ${maxCams} cameras, window 2`] = wsW.throughput / httpW.throughput;
    ratios['ws-binary ÷ http-base64 wire bytes per frame, both ways'] =
      (wsW.bytesUpPerFrame + wsW.bytesDownPerFrame) / (httpW.bytesUpPerFrame + httpW.bytesDownPerFrame);
    ratios['ws-binary upstream bytes per frame ÷ JPEG size'] = wsW.bytesUpPerFrame / wsW.imageBytes;
  }

  const rawTable = table(
    ['batch', 'raw ORT frames/s', 'infer p50 ms', 'decode ms/frame'],
    raw.map((r) => [r.batch, r.inferFps, r.inferMsP50, r.decodeMsPerFrame]),
  );
  const runTable = table(
    [
      'system',
      'cameras',
      'offered/s',
      'results/s',
      'p50 ms',
      'p95 ms',
      'p95 first/last third',
      'mean batch',
      'busy',
      'GPU util',
      'worker loop delay p99 ms',
      'CPU worker/edge/redis/client',
      'not result',
    ],
    rows.map((r) => [
      r.system,
      r.cameras,
      r.offeredFps,
      r.throughput,
      r.p50,
      r.p95,
      `${fmt(r.p95FirstThird)} / ${fmt(r.p95LastThird)}`,
      r.meanBatch ?? NaN,
      pct(r.busyFraction),
      pct(r.gpuUtil),
      r.loopP99Ms ?? NaN,
      r.cpuCores ? ['worker', 'edge', 'redis', 'client'].map((k) => (r.cpuCores![k] ?? 0).toFixed(2)).join(' / ') : '-',
      JSON.stringify(Object.fromEntries(Object.entries(r.outcomes).filter(([k]) => k !== 'result'))),
    ]),
  );
  if (twoModels.length === 2)
    ratios[`two models ÷ one model results/s, ${maxCams} cameras × ${o.fps} fps`] =
      twoModels[1].resultsPerS / twoModels[0].resultsPerS;
  const twoTable = table(
    ['two-model scenario (redis mode)', 'results/s', 'p95 ms', 'mean batch a / b', 'busy'],
    twoModels.map((t) => [t.scenario, t.resultsPerS, t.p95, t.meanBatch, `${(t.busy * 100).toFixed(0)}%`]),
  );
  if (bulkRows.length === 3) {
    for (const [i, policy] of [
      [1, 'bulk yields'],
      [2, 'BULK_YIELD=false'],
    ] as const) {
      ratios[`bulk job (${policy}): real-time p95 with ÷ without the job (target ≤ 1.1)`] =
        bulkRows[i].p95 / bulkRows[0].p95;
      ratios[`bulk job (${policy}): worker busy fraction with the job (target ≥ 0.95)`] = bulkRows[i].busy;
    }
  }
  const bulkTable = table(
    [
      'bulk scenario (redis mode)',
      'real-time results/s',
      'p50 ms',
      'p95 ms',
      'worker busy',
      'mean batch',
      'bulk images/s',
    ],
    bulkRows.map((b) => [
      b.scenario,
      b.resultsPerS,
      b.p50,
      b.p95,
      `${(b.busy * 100).toFixed(0)}%`,
      b.meanBatch,
      b.bulkPerS,
    ]),
  );
  const ratioTable = table(
    ['ratio (this run)', 'value'],
    Object.entries(ratios).map(([k, v]) => [k, v.toFixed(3)]),
  );
  console.log(
    `\nmachine: ${machine}\n\n${rawTable}\n\n${runTable}\n\n${twoModels.length ? `${twoTable}\n\n` : ''}${bulkRows.length ? `${bulkTable}\n\n` : ''}${ratioTable}`,
  );

  mkdirSync(o.out, { recursive: true });
  writeFileSync(
    join(o.out, 'results.json'),
    JSON.stringify(
      {
        machine,
        options: o,
        images: images.map(({ width, height, bytes }) => ({ width, height, bytes: bytes.length })),
        raw,
        runs: rows,
        twoModels,
        bulk: bulkRows,
        ratios,
      },
      null,
      2,
    ),
  );
  writeFileSync(
    join(o.out, 'results.md'),
    `# Benchmark\n\nMachine: ${machine}\n\nModel: \`${o.model}\` (${provider})\n\n${md(rawTable)}\n\n${md(runTable)}\n\n${twoModels.length ? `${md(twoTable)}\n\n` : ''}${bulkRows.length ? `${md(bulkTable)}\n\n` : ''}${md(ratioTable)}\n`,
  );
  const names = [
    ...new Set(rows.filter((r) => !r.system.includes('(') && !r.system.includes(',')).map((r) => r.system)),
  ];
  const series = (metric: (r: Row) => number) =>
    names.map((s) => ({
      name: s,
      points: rows.filter((r) => r.system === s).map((r) => [r.cameras, metric(r)] as [number, number]),
    }));
  writeFileSync(
    join(o.out, 'latency-vs-cameras.svg'),
    lineChart(
      'p95 latency vs cameras',
      'cameras',
      'p95 latency (ms)',
      series((r) => r.p95),
    ),
  );
  writeFileSync(
    join(o.out, 'throughput-vs-cameras.svg'),
    lineChart(
      'results/s vs cameras',
      'cameras',
      'results/s',
      series((r) => r.throughput),
    ),
  );
  console.log(`\nwritten ${o.out}/{results.json,results.md,latency-vs-cameras.svg,throughput-vs-cameras.svg}`);
}

function pct(f: number | undefined): string {
  return f === undefined || !Number.isFinite(f) ? '-' : `${(f * 100).toFixed(0)}%`;
}

function fmt(n: number): string {
  return Number.isFinite(n) ? n.toFixed(0) : '-';
}

/** Fixed-width text table → Markdown table. */
function md(t: string): string {
  const [head, , ...rows] = t.split('\n');
  const cells = (l: string) =>
    `| ${l
      .trim()
      .split(/\s{2,}/)
      .join(' | ')} |`;
  return [
    cells(head),
    `|${head
      .trim()
      .split(/\s{2,}/)
      .map(() => '---')
      .join('|')}|`,
    ...rows.map(cells),
  ].join('\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
