import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '@vision/testing';
import { RULES, type RepoRule, type SourceFile } from './repo-rules';

/** Every TypeScript source file under `dir` (not tests, builds or dependencies). */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (['node_modules', 'dist', 'test', 'demo'].includes(name)) continue;
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const root = repoRoot();
const files: SourceFile[] = [...sources(join(root, 'libs')), ...sources(join(root, 'apps'))].map((f) => ({
  path: relative(root, f),
  text: readFileSync(f, 'utf8'),
}));
const offences = (rule: RepoRule) => files.filter((f) => rule.covers(f.path)).flatMap((f) => rule.offences(f));

/**
 * Broken samples each rule must reject, and a clean one it must accept, at the path given (rules
 * cover some paths only). A rule that stops seeing what it is for fails here, not in silence.
 */
const SAMPLES: Record<keyof typeof RULES, { path: string; broken: string[]; clean: string }> = {
  environment: {
    path: 'libs/edge/src/sample.ts',
    broken: [
      'const port = process.env.PORT;',
      "const port = process['env']['PORT'];",
      'const { env } = process;',
      'const { env: e } = process;',
      "import { env } from 'node:process';",
      "const port = require('process').env.PORT;",
    ],
    clean: 'export function port(config: { port: number }) { return config.port; } const env = "prod";',
  },
  optionDefaults: {
    path: 'libs/worker/src/sample.ts',
    broken: [
      'const n = opts.maxBatch ?? 8;',
      "const h = this.cfg.host || 'localhost';",
      'const t = options?.timing?.ms ?? -1;',
      'const on = o.enabled ?? true;',
      "const m = opts['maxBatch'] ?? 8;",
      'function f({ maxBatch = 8 }: { maxBatch?: number }) { return maxBatch; }',
      'const { maxBatch = 8 } = opts;',
      'const { limit = 100 } = this.config.bulk;',
      'function f(opts: { n: number } = { n: 8 }) { return opts.n; }',
      'opts.n ??= 8;',
    ],
    clean: [
      'const n = opts.maxBatch ?? providerDefault;',
      'const name = frame.label ?? "";',
      'function page(offset = 0, limit = 100) { return offset + limit; }',
      'function send(opts: { id?: string } = {}) { return opts.id; }',
      'const { maxBatch } = opts;',
      'for (const [k, v = 0] of pairs) use(k, v);',
    ].join('\n'),
  },
  fileLength: {
    path: 'libs/wire/src/sample.ts',
    broken: [Array.from({ length: 301 }, (_, i) => `export const line${i} = ${i};`).join('\n')],
    clean: Array.from({ length: 299 }, (_, i) => `export const line${i} = ${i};`).join('\n'),
  },
  numericConstants: {
    path: 'libs/events/src/sample.ts',
    broken: [
      'const MAX_PAGE = 1000;',
      'export const LIMIT_MS = 10 * 60_000;',
      '/** The first has its why. */\nconst A_MS = 1;\nconst B_MS = -2;',
      'const RATE = (1 / 20) ** 2;',
    ],
    clean: [
      '/** Rows a page holds at most: the response stays small. */',
      'const MAX_PAGE = 1000;',
      'const BLOCK_MS = 200; // bounds how long a stop waits',
      "const PATH = '/ws/events';",
      'const limit = 5;',
      'const NO_DEADLINE = Number.MAX_SAFE_INTEGER;',
      'function f() { const LOCAL = 3; return LOCAL; }',
    ].join('\n'),
  },
  imports: {
    path: 'libs/edge/src/sample.ts',
    broken: [
      "import { parseFrame } from '@vision/wire/src/frame-header';",
      "import { parseFrame } from '../../wire/src';",
      'import { parseFrame } from "../../wire/src/frame-header";',
      "export { parseFrame } from '../../wire/src';",
      "export * from '@vision/wire/dist/index';",
      "const wire = require('../../wire/src');",
      "const wire = await import('@vision/wire/src');",
      "import wire = require('../../../apps/edge/src/main');",
    ],
    clean: [
      "import { parseFrame } from '@vision/wire';",
      "import { FrameLedger } from './frame-ledger';",
      "import { Gatekeeper } from './security/gatekeeper';",
      "const ws = require('ws');",
      "const lazy = await import('./edge.service');",
    ].join('\n'),
  },
};

/** The rules of docs/architecture.md that lint cannot express, held for every source file. */
describe('repository rules', () => {
  describe('each rule rejects its broken samples and accepts a clean one', () => {
    for (const [name, rule] of Object.entries(RULES) as [keyof typeof RULES, RepoRule][]) {
      const sample = SAMPLES[name];
      it(name, () => {
        expect(rule.covers(sample.path)).toBe(true);
        for (const text of sample.broken) expect(rule.offences({ path: sample.path, text }), text).not.toEqual([]);
        expect(rule.offences({ path: sample.path, text: sample.clean })).toEqual([]);
      });
    }
  });

  it('reads the environment only in libs/config', () => {
    expect(offences(RULES.environment)).toEqual([]);
  });

  it('keeps option defaults in libs/config: none given by `??`, `||`, parameters or destructuring elsewhere', () => {
    expect(offences(RULES.optionDefaults)).toEqual([]);
  });

  it('keeps every source file under 300 lines', () => {
    expect(offences(RULES.fileLength)).toEqual([]);
  });

  it('explains every numeric module constant outside libs/config (a comment at its definition)', () => {
    expect(offences(RULES.numericConstants)).toEqual([]);
  });

  it('imports other libraries only by their package name (their index), never a path inside them', () => {
    expect(offences(RULES.imports)).toEqual([]);
  });
});
