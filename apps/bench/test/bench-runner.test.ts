import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '@vision/testing';
import { opt, parseBenchArgs, usage } from '../src/bench-runner';

const options = {
  url: opt.required('edge base URL', '<url>'),
  cameras: opt.whole('simulated cameras', 4, 1),
  fps: opt.positive('frames per second per camera', 5),
  batches: opt.positives('batch sizes', '1,2'),
  transport: opt.choice('how frames travel', ['ws-binary', 'http-base64'] as const, 'ws-binary'),
  skip: opt.list('what to leave out', ['naive', 'redis'] as const, ''),
  workerEnv: opt.settings('worker settings', 'INTRA_OP_THREADS=1'),
  maxBatch: opt.wholeOrUnset('worker MAX_BATCH'),
  originalGraph: opt.flag('the export as it is'),
};

describe('bench runner', () => {
  it('gives every option its default, and reads kebab-case flags into typed values', () => {
    const o = parseBenchArgs(['--url', 'http://e'], options);
    expect(o).toMatchObject({
      url: 'http://e',
      cameras: 4,
      fps: 5,
      batches: [1, 2],
      transport: 'ws-binary',
      skip: [],
      workerEnv: { INTRA_OP_THREADS: '1' },
      maxBatch: undefined,
      originalGraph: false,
    });
    const set = parseBenchArgs(
      [
        '--url=http://e',
        '--cameras',
        '8',
        '--fps',
        '0.5',
        '--batches',
        '4, 8',
        '--transport',
        'http-base64',
        '--skip',
        'redis',
        '--worker-env',
        'A=1,B=x=y',
        '--max-batch',
        '2',
        '--original-graph',
      ],
      options,
    );
    expect(set).toMatchObject({
      cameras: 8,
      fps: 0.5,
      batches: [4, 8],
      transport: 'http-base64',
      skip: ['redis'],
      workerEnv: { A: '1', B: 'x=y' },
      maxBatch: 2,
      originalGraph: true,
    });
  });

  it('refuses a bad value, naming the option and what it expects', () => {
    const refused = (argv: string[]) => () => parseBenchArgs(['--url', 'u', ...argv], options);
    expect(refused(['--cameras', '2.5'])).toThrow("--cameras expects a whole number ≥ 1, got '2.5'");
    expect(refused(['--cameras', '0'])).toThrow('--cameras expects a whole number ≥ 1');
    expect(refused(['--fps', 'fast'])).toThrow("--fps expects a number above 0, got 'fast'");
    expect(refused(['--fps', ''])).toThrow('--fps expects a number above 0');
    expect(refused(['--batches', '1,x'])).toThrow("--batches expects numbers above 0, got 'x'");
    expect(refused(['--transport', 'carrier-pigeon'])).toThrow('--transport expects one of ws-binary, http-base64');
    expect(refused(['--skip', 'naive,bogus'])).toThrow("--skip: 'bogus' is not one of naive, redis");
    expect(refused(['--worker-env', 'NOVALUE'])).toThrow("--worker-env expects KEY=VALUE pairs, got 'NOVALUE'");
    expect(refused(['--colour', 'red'])).toThrow("'--colour'");
    expect(refused(['stray'])).toThrow("'stray'");
    expect(() => parseBenchArgs([], options)).toThrow('--url is required');
  });

  it('prints one usage format: flag, argument, help, default', () => {
    const text = usage('npm run bench:run --', 'Simulated cameras.', options);
    expect(text.split('\n').slice(0, 5)).toEqual([
      'usage: npm run bench:run -- [options]',
      '',
      'Simulated cameras.',
      '',
      'options:',
    ]);
    expect(text).toMatch(/^ {2}--url <url> +edge base URL \(required\)$/m);
    expect(text).toMatch(/^ {2}--cameras <n> +simulated cameras \[4\]$/m);
    expect(text).toMatch(/^ {2}--transport <name> +how frames travel \(ws-binary, http-base64\) \[ws-binary\]$/m);
    expect(text).toMatch(/^ {2}--skip <list> +what to leave out \(naive, redis\)$/m);
    expect(text).toMatch(/^ {2}--original-graph +the export as it is$/m);
    expect(text).toMatch(/^ {2}--help +this text$/m);
  });

  // The built commands, as `npm run` starts them: --help, and a refusal before anything starts.
  const dist = join(repoRoot(), 'apps', 'bench', 'dist');
  const BENCHES = [
    'bench-cli',
    'model-bench',
    'decode-bench',
    'shape-switch',
    'edge-capacity',
    'events-bench',
    'gateway-bench',
    'soak',
    'attack',
    'attack-soak',
    'compare',
    'aggregate',
  ];
  it('every built bench answers --help and refuses a bad option', () => {
    for (const bench of BENCHES) {
      const run = (args: string[]) =>
        spawnSync(process.execPath, [join(dist, `${bench}.js`), ...args], { encoding: 'utf8', timeout: 30_000 });
      const help = run(['--help']);
      expect(help.status, `${bench} --help: ${help.stderr}`).toBe(0);
      expect(help.stdout, bench).toMatch(/^usage: /);
      const bad = run(['--no-such-option']);
      expect(bad.status, bench).toBe(2);
      expect(bad.stderr, bench).toContain("Unknown option '--no-such-option' (--help lists the options)");
    }
  });
});
