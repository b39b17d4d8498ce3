import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionProviderName } from '@vision/config';
import { runCameras } from './cameras';
import { runWithProgress } from './bench-cli';
import type { CompareOptions } from './compare-options';
import { startProject, submitBulkJob } from './systems';
import { summarize } from './summary';
import { diffCounters, scrapeTotal, scrapeWorker } from './worker-metrics';

export interface TwoModelRow {
  scenario: string;
  resultsPerS: number;
  p95: number;
  meanBatch: string;
  busy: number;
}

export interface BulkRow {
  scenario: string;
  resultsPerS: number;
  p50: number;
  p95: number;
  busy: number;
  meanBatch: number;
  bulkPerS: number;
}

/**
 * 5. Two models on one worker: the same load on one model, then split over two (the same file
 * under two ids, so only the batching differs): what splitting batches across models costs.
 */
export async function runTwoModels(
  o: CompareOptions,
  provider: ExecutionProviderName,
  jpegs: Buffer[],
  maxCams: number,
  cleanup: (() => Promise<void>)[],
): Promise<TwoModelRow[]> {
  const twoModels: TwoModelRow[] = [];
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
    fps: o.fps,
    seconds: o.seconds,
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
  return twoModels;
}

/**
 * 6. Bulk backfill: 4 cameras below capacity, alone and then beside a bulk job, with the default
 * policy (bulk yields to forecast live frames) and with BULK_YIELD=false (bulk fills every idle
 * moment): what the job costs real-time latency, and how much idle time it fills.
 */
export async function runBulkBackfill(
  o: CompareOptions,
  provider: ExecutionProviderName,
  jpegs: Buffer[],
  cleanup: (() => Promise<void>)[],
): Promise<BulkRow[]> {
  const bulkRows: BulkRow[] = [];
  for (const policy of ['yield', 'fill'] as const) {
    const sys = await startProject('redis', o, provider, policy === 'fill' ? { BULK_YIELD: 'false' } : {});
    cleanup.push(sys.stop);
    const load = {
      transport: 'ws-binary' as const,
      baseUrl: sys.baseUrl,
      images: jpegs,
      cameras: 4,
      fps: o.bulkFps,
      seconds: o.seconds,
      maxInFlight: Infinity,
    };
    await runCameras({ ...load, seconds: 2 }); // warm-up
    for (const withJob of policy === 'yield' ? [false, true] : [true]) {
      if (withJob) await submitBulkJob(sys.baseUrl, jpegs, o.bulkImages);
      const before = await scrapeWorker(sys.metrics!.worker);
      const bulkBefore = await scrapeTotal(sys.metrics!.worker, 'vision_bulk_images_total');
      const run = await runWithProgress(load);
      const d = diffCounters(before, await scrapeWorker(sys.metrics!.worker), run.elapsedMs);
      const s = summarize(run);
      bulkRows.push({
        scenario: withJob
          ? `4 cameras × ${o.bulkFps} fps + a ${o.bulkImages}-image job ` +
            `(${policy === 'yield' ? 'bulk yields' : 'BULK_YIELD=false'})`
          : `4 cameras × ${o.bulkFps} fps alone`,
        resultsPerS: s.throughput,
        p50: s.p50,
        p95: s.p95,
        busy: d.busyFraction,
        meanBatch: d.meanBatch,
        bulkPerS:
          ((await scrapeTotal(sys.metrics!.worker, 'vision_bulk_images_total')) - bulkBefore) / (run.elapsedMs / 1000),
      });
    }
    // Its job would still be running: it must not share the CPU with the next measurement.
    await sys.stop();
  }
  return bulkRows;
}
