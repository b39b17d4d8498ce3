import { readFileSync } from 'node:fs';
import { percentile } from './stats';
import { runBench, UsageError } from './bench-runner';

/**
 * `node apps/bench/dist/aggregate.js results/bench-1/results.json results/bench-2/… …`: medians and
 * spread (min–max) of the ratios of several `npm run bench` runs, as the README reports them.
 */
async function main(_options: object, files: string[]): Promise<void> {
  if (files.length === 0) throw new UsageError('name at least one results.json');
  const runs = files.map(
    (f) => JSON.parse(readFileSync(f, 'utf8')) as { ratios: Record<string, number>; runs: Record<string, unknown>[] },
  );
  console.log(`| ratio | median of ${runs.length} runs | min–max |\n|---|---|---|`);
  for (const key of Object.keys(runs[0].ratios)) {
    const v = runs.map((r) => r.ratios[key]).filter(Number.isFinite);
    console.log(
      `| ${key} | ${percentile(v, 50).toFixed(3)} | ${Math.min(...v).toFixed(3)}–${Math.max(...v).toFixed(3)} |`,
    );
  }
  const rowKey = (r: Record<string, unknown>) => `${r['system']}|${r['cameras']}`;
  const fields = [
    'throughput',
    'p50',
    'p95',
    'p95FirstThird',
    'p95LastThird',
    'meanBatch',
    'busyFraction',
    'loopP99Ms',
  ] as const;
  console.log(`\n| system | cameras | ${fields.join(' | ')} |\n|---|---|${fields.map(() => '---').join('|')}|`);
  for (const row of runs[0].runs) {
    const same = runs.map((r) => r.runs.find((x) => rowKey(x) === rowKey(row))).filter(Boolean) as Record<
      string,
      unknown
    >[];
    const cell = (f: string) => {
      const v = same.map((x) => Number(x[f])).filter(Number.isFinite);
      if (!v.length) return '–';
      const m = percentile(v, 50);
      const fmt = (n: number) =>
        f === 'busyFraction' ? `${(n * 100).toFixed(0)}%` : n >= 100 ? n.toFixed(0) : n.toFixed(1);
      return `${fmt(m)} (${fmt(Math.min(...v))}–${fmt(Math.max(...v))})`;
    };
    console.log(`| ${row['system']} | ${row['cameras']} | ${fields.map(cell).join(' | ')} |`);
  }
}

runBench(
  {
    name: 'aggregate',
    command: 'node apps/bench/dist/aggregate.js',
    about: 'Medians and spread of the ratios of several `npm run bench` runs.',
    options: {},
    positionals: '<results.json>…',
  },
  main,
);
