import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompareOptions } from './compare-options';
import type { BulkRow, TwoModelRow } from './compare-scenarios';
import { THREAD_KINDS, type ThreadKind } from './cpu-usage';
import type { RawOrtRow } from './raw-ort';
import { table } from './stats';
import type { RunSummary } from './summary';
import { lineChart } from './svg-chart';

/** One measured run: a system (and scenario) at one load level, with the worker's counters when it has one. */
export type CompareRow = RunSummary & {
  system: string;
  gpuUtil?: number;
  busyFraction?: number;
  meanBatch?: number;
  loopP99Ms?: number;
  cpuCores?: Record<string, number>;
  /** The worker's (or embedded server's) cores by thread kind (cpu-usage.ts). */
  workerThreads?: Record<ThreadKind, number>;
};

export interface CompareResults {
  machine: string;
  provider: string;
  /** The options as given, written into results.json. */
  o: CompareOptions;
  images: { width: number; height: number; bytes: Buffer }[];
  raw: RawOrtRow[];
  rows: CompareRow[];
  twoModels: TwoModelRow[];
  bulkRows: BulkRow[];
  ratios: Record<string, number>;
}

/** Prints the tables, and writes results.json, results.md and the charts under `o.out`. */
export function writeReport({
  machine,
  provider,
  o,
  images,
  raw,
  rows,
  twoModels,
  bulkRows,
  ratios,
}: CompareResults): void {
  const rawTable = table(
    ['sessions × threads', 'batch', 'raw ORT frames/s', 'infer p50 ms', 'decode ms/frame'],
    raw.map((r) => [`${r.engines} × ${r.threads}`, r.batch, r.inferFps, r.inferMsP50, r.decodeMsPerFrame]),
  );
  const profiled = rows.filter((r) => r.workerThreads);
  const threadTable = table(
    ["where the worker's CPU goes", 'cameras', ...THREAD_KINDS.map((k) => `${k}: cores (ms/result)`), 'all'],
    profiled.map((r) => {
      const cores = THREAD_KINDS.map((k) => r.workerThreads![k]);
      const cell = (c: number) => `${c.toFixed(2)} (${((c * 1000) / r.throughput).toFixed(1)})`;
      return [r.system, r.cameras, ...cores.map(cell), cell(cores.reduce((a, b) => a + b, 0))];
    }),
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
  const twoTable = table(
    ['two-model scenario (redis mode)', 'results/s', 'p95 ms', 'mean batch a / b', 'busy'],
    twoModels.map((t) => [t.scenario, t.resultsPerS, t.p95, t.meanBatch, `${(t.busy * 100).toFixed(0)}%`]),
  );
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
  const tables = [
    rawTable,
    runTable,
    ...(profiled.length ? [threadTable] : []),
    ...(twoModels.length ? [twoTable] : []),
    ...(bulkRows.length ? [bulkTable] : []),
    ratioTable,
  ];
  console.log(`\nmachine: ${machine}\n\n${tables.join('\n\n')}`);

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
    `# Benchmark\n\nMachine: ${machine}\n\nModel: \`${o.model}\` (${provider})\n\n${tables.map(md).join('\n\n')}\n`,
  );
  const names = [
    ...new Set(rows.filter((r) => !r.system.includes('(') && !r.system.includes(',')).map((r) => r.system)),
  ];
  const series = (metric: (r: CompareRow) => number) =>
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
