import { EVENT_LOOP_SAMPLE_MS } from '@vision/metrics';

/** The worker's Prometheus counters a benchmark compares before and after a run. */
export interface WorkerCounters {
  busySeconds: number;
  batchCount: number;
  batchSum: number;
  /** Cumulative bucket counts of vision_worker_batch_size by upper bound. */
  batchBuckets: Map<number, number>;
}

/** Every sample of `name` in Prometheus text, with its labels. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? ([0-9.e+-]+|\\+Inf)$`, 'gm'))) {
    const labels = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    out.push({ labels, value: Number(m[2]) });
  }
  return out;
}

/** A metric's value summed over all its label sets (e.g. bulk images over models). */
export async function scrapeTotal(metricsUrl: string, name: string): Promise<number> {
  return samples(await (await fetch(metricsUrl)).text(), name).reduce((a, x) => a + x.value, 0);
}

/** The worker's counters, summed over its models, or for one `model`. */
export async function scrapeWorker(metricsUrl: string, model?: string): Promise<WorkerCounters> {
  const text = await (await fetch(metricsUrl)).text();
  const mine = (name: string) => samples(text, name).filter((x) => model === undefined || x.labels['model'] === model);
  const value = (name: string) => mine(name).reduce((a, x) => a + x.value, 0);
  const batchBuckets = new Map<number, number>();
  for (const x of mine('vision_worker_batch_size_bucket')) {
    const le = x.labels['le'] === '+Inf' ? Infinity : Number(x.labels['le']);
    batchBuckets.set(le, (batchBuckets.get(le) ?? 0) + x.value);
  }
  return {
    busySeconds: value('vision_worker_busy_seconds_total'),
    batchCount: value('vision_worker_batch_size_count'),
    batchSum: value('vision_worker_batch_size_sum'),
    batchBuckets,
  };
}

/** Batch-size histogram (non-cumulative, by upper bound) and busy fraction between two scrapes. */
export function diffCounters(a: WorkerCounters, b: WorkerCounters, elapsedMs: number) {
  const histogram: Record<string, number> = {};
  let prev = 0;
  for (const [le, cum] of [...b.batchBuckets].sort((x, y) => x[0] - y[0])) {
    const d = cum - (a.batchBuckets.get(le) ?? 0);
    if (d - prev > 0) histogram[`≤${le}`] = d - prev;
    prev = d;
  }
  const batches = b.batchCount - a.batchCount;
  return {
    busyFraction: (b.busySeconds - a.busySeconds) / (elapsedMs / 1000),
    batches,
    meanBatch: batches ? (b.batchSum - a.batchSum) / batches : 0,
    histogram,
  };
}

/**
 * Event-loop delay p99 (ms) of a process since its previous scrape, beyond the 10 ms sampling
 * interval that Node's histogram includes in every sample (an idle loop reads ~10.3 ms). prom-client
 * resets the histogram at every collection, so scrape once before a run to start clean.
 */
export async function eventLoopP99Ms(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return Math.max(
    0,
    Number(/^nodejs_eventloop_lag_p99_seconds ([0-9.e+-]+)$/m.exec(text)?.[1] ?? NaN) * 1000 - EVENT_LOOP_SAMPLE_MS,
  );
}
