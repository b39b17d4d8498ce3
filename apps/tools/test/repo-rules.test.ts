import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '@vision/testing';

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
const files = [...sources(join(root, 'libs')), ...sources(join(root, 'apps'))].map((f) => ({
  path: relative(root, f),
  text: readFileSync(f, 'utf8'),
}));
/** Library and app code that runs in production (the test harness and benchmarks are tools). */
const product = files.filter(
  (f) => !f.path.startsWith('libs/testing/') && !f.path.startsWith('apps/bench/') && !f.path.startsWith('apps/tools/'),
);
const offenders = (list: typeof files, pattern: RegExp) =>
  list.flatMap((f) =>
    f.text.split('\n').flatMap((line, i) => (pattern.test(line) ? [`${f.path}:${i + 1}: ${line.trim()}`] : [])),
  );

/** The rules of docs/architecture.md that lint cannot express, held for every source file. */
describe('repository rules', () => {
  it('reads the environment only in libs/config', () => {
    expect(
      offenders(
        files.filter((f) => !f.path.startsWith('libs/config/')),
        /process\.env\b/,
      ),
    ).toEqual([]);
  });

  it('keeps option defaults in libs/config: no `opts.x ?? <literal>` in production code elsewhere', () => {
    const defaulted = new RegExp(
      /\b(?:o|opts|options|cfg|config|input|spec|limits|settings)\??\.\w+(?:\?\.\w+)* \?\? /.source +
        /(?:-?\d|'|"|`|true\b|false\b)/.source,
    );
    expect(
      offenders(
        product.filter((f) => !f.path.startsWith('libs/config/')),
        defaulted,
      ),
    ).toEqual([]);
  });

  it('keeps every source file under 300 lines', () => {
    expect(files.filter((f) => f.text.split('\n').length > 300).map((f) => f.path)).toEqual([]);
  });

  it('imports other libraries only by their package name (their index), never a path inside them', () => {
    expect(offenders(files, /from '@vision\/[\w-]+\/|from '\.\.\/\.\.\/(libs|apps)\//)).toEqual([]);
  });
});
