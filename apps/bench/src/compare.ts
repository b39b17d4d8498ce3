import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { benchModelName, freePort, modelsDir, repoRoot, startService, startTestRedis, uniquePrefix, type ServiceProcess } from '@vision/testing';
import { YoloModel } from '@vision/yolo';
import { BENCH_TRANSPORTS } from './cameras';
import { CpuMeter } from './cpu-usage';
import { loadBenchImages, runWithProgress } from './bench-cli';
import { measureRawOrt, type RawOrtRow } from './raw-ort';
import { percentile, table } from './stats';
import { summarize, type RunSummary } from './summary';
import { lineChart } from './svg-chart';
import { diffCounters, eventLoopP99Ms, scrapeWorker } from './worker-metrics';

/**
 * `npm run bench`: one self-contained comparison on this machine, in one run.
 * 1. raw in-process ONNX Runtime throughput of the model per batch size (the ceiling);
 * 2. the Redis-mode pipeline (edge + worker processes, own redis-server) under N cameras over
 *    ws-binary (yolo.v1), HTTP base64 JSON and HTTP binary;
 * 3. ratios from those numbers — nothing is compared against a number measured elsewhere.
 */
async function main(): Promise<void> {
  const o = new Command('bench')
    .option('--model <file>', 'ONNX model', join(modelsDir(), `${benchModelName(640)}.onnx`))
    .option('--batches <list>', 'raw ORT batch sizes', '1,2,4,8')
    .option('--cameras <list>', 'camera counts', '1,2,4,8')
    .option('--fps <n>', 'frames per second per camera', '5')
    .option('--latency-fps <n>', 'rate of the single-camera latency run (low enough that frames never queue)', '2')
    .option('--latency-seconds <n>', 'duration of each single-camera latency run', '15')
    .option('--seconds <n>', 'seconds per load level', '8')
    .option('--max-batch <n>', 'worker MAX_BATCH', '8')
    .option('--provider <name>', 'EXECUTION_PROVIDER for both the raw baseline and the worker', 'cpu')
    .option('--out <dir>', 'results folder', join(repoRoot(), 'results', 'bench'))
    .parse()
    .opts<{ model: string; batches: string; cameras: string; fps: string; latencyFps: string; latencySeconds: string; seconds: string; maxBatch: string; provider: string; out: string }>();
  const images = loadBenchImages();
  const provider = o.provider as 'cpu' | 'cuda' | 'tensorrt';
  const machine = `${cpus().length}× ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  console.error(`machine: ${machine}\nmodel: ${o.model} (${provider})\n`);

  // 1. Raw ONNX Runtime, in this process, before any service runs (no contention).
  const model = await YoloModel.load({ modelPath: o.model, executionProvider: provider });
  const raw: RawOrtRow[] = [];
  for (const b of o.batches.split(',').map(Number)) {
    raw.push(await measureRawOrt(model, images, b, { seconds: 4, minRuns: 3 }));
    console.error(`raw ORT batch ${b}: ${raw[raw.length - 1].inferFps.toFixed(1)} frames/s`);
  }
  // The same single-frame work at the latency run's cadence: ONNX Runtime's threads sleep and caches
  // go cold between sparse frames, so back-to-back timings would understate the model's share.
  const paced: number[] = [];
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 1000 / Number(o.latencyFps)));
    const t0 = performance.now();
    await model.infer([await model.decode(images[i % images.length])]);
    paced.push(performance.now() - t0);
  }
  await model.dispose();
  const modelTimeP50 = percentile(paced, 50);
  const backToBack = raw.find((r) => r.batch === 1)?.totalMsP50 ?? NaN;
  console.error(`single frame, back to back: ${backToBack.toFixed(1)} ms p50; at ${o.latencyFps} fps: ${modelTimeP50.toFixed(1)} ms p50`);

  // 2. The pipeline in Redis mode, as separate processes.
  const redis = await startTestRedis({ own: true });
  const metricsPort = await freePort();
  const common = { REDIS_URL: redis.url, REDIS_PREFIX: uniquePrefix('bench'), MODEL_PATH: o.model, LOG_LEVEL: 'warn', EXECUTION_PROVIDER: provider };
  const procs: ServiceProcess[] = [];
  const latency: RunSummary[] = [];
  const summaries: (RunSummary & { busyFraction: number; meanBatch: number; batchHistogram: Record<string, number>; cpuCores: Record<string, number>; loopP99Ms: { worker: number; edge: number } })[] = [];
  try {
    procs.push(await startService('worker', { ...common, LOG_LEVEL: 'info', MAX_BATCH: o.maxBatch, METRICS_PORT: String(metricsPort), HOST: '127.0.0.1' }));
    // The load generator is one address (one tenant without auth): let it use the whole backlog.
    const edge = await startService('edge', { ...common, LOG_LEVEL: 'info', MAX_QUEUE: '64', TENANT_MAX_QUEUE: '64', METRICS_PORT: String(await freePort()) });
    procs.push(edge);
    const baseUrl = `http://127.0.0.1:${edge.port}`;
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const edgeMetricsUrl = `http://127.0.0.1:${edge.metricsPort}/metrics`;
    await runWithProgress({ transport: 'ws-binary', baseUrl, images, cameras: 1, fps: 5, seconds: 2 }); // warm-up
    // Added latency is measured where nothing queues: one camera, well below the service rate.
    for (const transport of BENCH_TRANSPORTS) {
      const run = await runWithProgress({ transport, baseUrl, images, cameras: 1, fps: Number(o.latencyFps), seconds: Number(o.latencySeconds) });
      latency.push(summarize(run));
    }
    for (const transport of BENCH_TRANSPORTS) {
      for (const cameras of o.cameras.split(',').map(Number)) {
        const before = await scrapeWorker(metricsUrl);
        await eventLoopP99Ms(edgeMetricsUrl); // resets the edge's event-loop histogram
        const cpu = new CpuMeter({ worker: procs[0].proc.pid, edge: edge.proc.pid, redis: redis.pid(), client: process.pid });
        const run = await runWithProgress({ transport, baseUrl, images, cameras, fps: Number(o.fps), seconds: Number(o.seconds) });
        const cpuCores = cpu.since();
        const loopP99Ms = { worker: await eventLoopP99Ms(metricsUrl), edge: await eventLoopP99Ms(edgeMetricsUrl) };
        const d = diffCounters(before, await scrapeWorker(metricsUrl), run.elapsedMs);
        summaries.push({ ...summarize(run), busyFraction: d.busyFraction, meanBatch: d.meanBatch, batchHistogram: d.histogram, cpuCores, loopP99Ms });
      }
    }
  } finally {
    await Promise.all(procs.map((p) => p.kill('SIGTERM')));
    await redis.stop();
  }

  // 3. Ratios, all from this run.
  const at = (t: string, cams: number) => summaries.find((s) => s.transport === t && s.cameras === cams)!;
  const lat = (t: string) => latency.find((s) => s.transport === t)!;
  const maxCams = Math.max(...o.cameras.split(',').map(Number));
  const wsMax = at('ws-binary', maxCams);
  const rawAt = raw.reduce((best, r) => (Math.abs(r.batch - wsMax.meanBatch) < Math.abs(best.batch - wsMax.meanBatch) ? r : best));
  const ratios = {
    e2eOverRawOrt: wsMax.throughput / rawAt.inferFps,
    e2eOverRawOrtComparedAtBatch: rawAt.batch,
    wsOverHttpBase64Throughput: wsMax.throughput / at('http-base64', maxCams).throughput,
    wsOverHttpBase64P50AtOneCamera: lat('ws-binary').p50 / lat('http-base64').p50,
    wsOverHttpBase64BytesPerFrame:
      (wsMax.bytesUpPerFrame + wsMax.bytesDownPerFrame) /
      (at('http-base64', maxCams).bytesUpPerFrame + at('http-base64', maxCams).bytesDownPerFrame),
    wsUpBytesOverJpeg: wsMax.bytesUpPerFrame / wsMax.imageBytes,
    addedP50MsAtOneCamera: lat('ws-binary').p50 - modelTimeP50,
    modelTimeP50Ms: modelTimeP50,
    modelTimeBackToBackP50Ms: backToBack,
  };

  const rawTable = table(['batch', 'raw ORT frames/s', 'infer p50 ms', 'preprocess ms/frame'], raw.map((r) => [r.batch, r.inferFps, r.inferMsP50, r.preprocessMsPerFrame]));
  const runTable = table(
    ['transport', 'cameras', 'offered/s', 'results/s', 'p50 ms', 'p95 ms', 'p99 ms', 'up B/frame', 'down B/frame', 'mean batch', 'busy', 'CPU cores worker/edge/redis/client', 'loop p99 ms worker/edge', 'batch sizes', 'not result'],
    summaries.map((s) => [
      s.transport, s.cameras, s.offeredFps, s.throughput, s.p50, s.p95, s.p99, Math.round(s.bytesUpPerFrame), Math.round(s.bytesDownPerFrame),
      s.meanBatch, `${(s.busyFraction * 100).toFixed(0)}%`,
      ['worker', 'edge', 'redis', 'client'].map((k) => s.cpuCores[k].toFixed(2)).join(' / '),
      `${s.loopP99Ms.worker.toFixed(1)} / ${s.loopP99Ms.edge.toFixed(1)}`,
      Object.entries(s.batchHistogram).map(([le, n]) => `${le}:${n}`).join(' '), JSON.stringify(Object.fromEntries(Object.entries(s.outcomes).filter(([k]) => k !== 'result'))) + (s.skippedAtSource ? ` skipped:${s.skippedAtSource}` : ''),
    ]),
  );
  const ratioTable = table(
    ['ratio', 'value'],
    [
      [`e2e ws-binary throughput ÷ raw ORT (batch ${rawAt.batch}) at ${maxCams} cameras`, ratios.e2eOverRawOrt.toFixed(3)],
      [`ws-binary ÷ http-base64 throughput at ${maxCams} cameras`, ratios.wsOverHttpBase64Throughput.toFixed(3)],
      [`ws-binary ÷ http-base64 p50 latency, 1 camera at ${o.latencyFps} fps`, ratios.wsOverHttpBase64P50AtOneCamera.toFixed(3)],
      ['ws-binary ÷ http-base64 wire bytes per frame (both ways)', ratios.wsOverHttpBase64BytesPerFrame.toFixed(3)],
      ['ws-binary upstream bytes per frame ÷ JPEG size', ratios.wsUpBytesOverJpeg.toFixed(4)],
      [`added p50 latency, 1 camera at ${o.latencyFps} fps, over in-process model time at that rate (${modelTimeP50.toFixed(1)} ms), ms`, ratios.addedP50MsAtOneCamera.toFixed(1)],
    ],
  );
  const latencyTable = table(
    ['transport (1 camera)', 'fps', 'p50 ms', 'p95 ms', 'up B/frame', 'down B/frame'],
    latency.map((s) => [s.transport, s.fps, s.p50, s.p95, Math.round(s.bytesUpPerFrame), Math.round(s.bytesDownPerFrame)]),
  );
  console.log(`\nmachine: ${machine}\n\n${rawTable}\n\n${latencyTable}\n\n${runTable}\n\n${ratioTable}`);

  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'results.json'), JSON.stringify({ machine, options: o, raw, latency, runs: summaries, ratios }, null, 2));
  writeFileSync(join(o.out, 'results.md'), `# Benchmark\n\nMachine: ${machine}\n\nModel: \`${o.model}\` (${provider})\n\n${md(rawTable)}\n\n${md(latencyTable)}\n\n${md(runTable)}\n\n${md(ratioTable)}\n`);
  const series = (metric: (s: RunSummary) => number) =>
    BENCH_TRANSPORTS.map((t) => ({ name: t, points: summaries.filter((s) => s.transport === t).map((s) => [s.offeredFps, metric(s)] as [number, number]) }));
  writeFileSync(join(o.out, 'latency-vs-load.svg'), lineChart('p50 latency vs offered load', 'offered frames/s', 'p50 latency (ms)', series((s) => s.p50)));
  writeFileSync(
    join(o.out, 'throughput-vs-cameras.svg'),
    lineChart(
      'throughput vs cameras',
      'cameras',
      'results/s',
      BENCH_TRANSPORTS.map((t) => ({ name: t, points: summaries.filter((s) => s.transport === t).map((s) => [s.cameras, s.throughput] as [number, number]) })),
    ),
  );
  console.log(`\nwritten ${o.out}/{results.json,results.md,latency-vs-load.svg,throughput-vs-cameras.svg}`);
}

/** Fixed-width text table → Markdown table. */
function md(t: string): string {
  const [head, , ...rows] = t.split('\n');
  const cells = (l: string) => `| ${l.trim().split(/\s{2,}/).join(' | ')} |`;
  return [cells(head), `|${head.trim().split(/\s{2,}/).map(() => '---').join('|')}|`, ...rows.map(cells)].join('\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
