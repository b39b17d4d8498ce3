import { cpus, totalmem } from 'node:os';
import { cpuCores, INFERENCE, loadConfig, type ExecutionProviderName } from '@vision/config';
import { fitCandidates } from '@vision/yolo';
import { loadBenchModel } from './bench-model';
import { CpuMeter, ThreadMeter } from './cpu-usage';
import { GpuMeter } from './gpu-usage';
import { runWithProgress } from './bench-cli';
import { compareOptions, type CompareOptions } from './compare-options';
import { progress, runBench } from './bench-runner';
import { compareRatios } from './compare-ratios';
import { writeReport, type CompareRow } from './compare-report';
import { runBulkBackfill, runTwoModels, type BulkRow, type TwoModelRow } from './compare-scenarios';
import { benchImages, startNaive, startProject, type System } from './systems';
import { measureRawOrt, type RawOrtRow } from './raw-ort';
import { summarize } from './summary';
import { diffCounters, eventLoopP99Ms, scrapeWorker } from './worker-metrics';

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
async function main(o: CompareOptions): Promise<void> {
  const images = await benchImages(o.images);
  const provider = o.provider;
  const skip = new Set<string>(o.skip);
  const cams = o.cameras;
  const maxCams = Math.max(...cams);
  const memory = `${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  const machine = `${cpus().length}× ${cpus()[0]?.model.trim()}, ${memory}, Node ${process.version}`;
  console.error(
    `machine: ${machine}\nmodel: ${o.model} (${provider})\nimages: ` +
      `${images.map((i) => `${i.width}×${i.height} ${(i.bytes.length / 1024).toFixed(0)} KiB`).join(', ')}\n`,
  );
  const jpegs = images.map((i) => i.bytes);

  // 1. Raw ONNX Runtime, in this process, before any service runs (no contention): every split of
  // the cores the host fit may choose (one session with every thread, …, one thread per session).
  const batches = o.batches;
  const raw: RawOrtRow[] = [];
  for (const split of rawSplits(provider)) {
    const model = await loadBenchModel(o.model, {
      executionProvider: provider,
      batchSizes: batches,
      maxBatch: Math.max(...batches),
      ...split,
    });
    for (const b of batches) {
      const row = await measureRawOrt(model, jpegs, b, { seconds: 4, minRuns: 3 });
      raw.push({ ...row, engines: split.engines, threads: split.intraOpThreads });
      progress(
        `raw ORT ${split.engines}×${split.intraOpThreads} threads, batch ${b}: ${row.inferFps.toFixed(1)} frames/s`,
      );
    }
    await model.dispose();
  }

  const rows: CompareRow[] = [];
  const twoModels: TwoModelRow[] = [];
  const bulkRows: BulkRow[] = [];
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
    for (let round = 0; round < o.lowRounds; round++) {
      for (const sys of systems) {
        const run = await runWithProgress({
          transport: sys.transport,
          baseUrl: sys.baseUrl,
          images: jpegs,
          cameras: 1,
          fps: o.lowFps,
          seconds: o.lowSeconds,
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
        // The scrape also restarts the loop-delay histogram.
        const before = sys.metrics ? await scrapeWorker(sys.metrics.worker) : undefined;
        const cpu = sys.metrics ? new CpuMeter(sys.metrics.pids) : undefined;
        const workerPid = sys.metrics?.pids['worker'];
        const threads = workerPid === undefined ? undefined : new ThreadMeter(workerPid);
        const gpu = provider === 'cpu' ? undefined : new GpuMeter();
        const run = await runWithProgress({
          transport: sys.transport,
          baseUrl: sys.baseUrl,
          images: jpegs,
          cameras,
          fps: o.fps,
          seconds: o.seconds,
          maxInFlight: Infinity,
        });
        const row: CompareRow = { ...summarize(run), system: sys.name, gpuUtil: gpu?.stop() };
        if (sys.metrics && before) {
          // Each scrape restarts prom-client's loop-delay histogram: read the run's p99 first.
          const loopP99Ms = await eventLoopP99Ms(sys.metrics.worker);
          const d = diffCounters(before, await scrapeWorker(sys.metrics.worker), run.elapsedMs);
          Object.assign(row, {
            busyFraction: d.busyFraction,
            meanBatch: d.meanBatch,
            loopP99Ms,
            cpuCores: cpu!.since(),
            workerThreads: threads?.since(),
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
            fps: o.fps,
            seconds: o.seconds,
            maxInFlight: 2,
          });
          rows.push({ ...summarize(run), system: `redis, ${transport}, window 2` });
        }
      }
    }
    if (!skip.has('two-models')) twoModels.push(...(await runTwoModels(o, provider, jpegs, maxCams, cleanup)));
    if (!skip.has('bulk')) bulkRows.push(...(await runBulkBackfill(o, provider, jpegs, cleanup)));
  } finally {
    for (const c of cleanup.reverse()) await c();
  }

  const ratios = compareRatios(rows, twoModels, bulkRows, raw, cams, o);
  writeReport({ machine, provider, o, images, raw, rows, twoModels, bulkRows, ratios });
}

/**
 * The splits of this host's cores into sessions that the worker's host fit chooses from: the
 * engine's ceiling is the best of them, whatever the worker under test was pinned to. On a GPU
 * (no fit) one session at the worker's default threads, as before the fit.
 */
function rawSplits(provider: ExecutionProviderName): { engines: number; intraOpThreads: number }[] {
  if (provider !== 'cpu') return [{ engines: 1, intraOpThreads: loadConfig({}).model.intraOpThreads }];
  const cores = cpuCores();
  const pinned = { engines: false, intraOpThreads: false, maxBatch: false };
  const current = { engines: 1, intraOpThreads: cores, maxBatch: 1 };
  const o = { cores, pinned, batches: [], maxEngines: INFERENCE.hostFitMaxEngines };
  return fitCandidates(o, current, 'dynamic').splits;
}

runBench(
  { name: 'bench', about: 'One self-contained comparison on this machine, in one run.', options: compareOptions },
  main,
);
