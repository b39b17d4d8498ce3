import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '@vision/testing';

/** A role started for real with `env`; what it printed, line by line, and how it ended. */
function runRole(role: string, env: Record<string, string>) {
  const r = spawnSync(process.execPath, [join(repoRoot(), 'apps', role, 'dist', 'main.js')], {
    cwd: repoRoot(),
    env: { PATH: process.env['PATH'], ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  const lines = (text: string) => text.split('\n').filter(Boolean);
  return { status: r.status, stdout: lines(r.stdout), stderr: lines(r.stderr) };
}

const json = (line: string): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
};

/**
 * A bad setting stops every role before it serves, in the one documented format
 * (docs/troubleshooting.md, Start-up): the logger's JSON line `start-up failed` with `E_CONFIG`
 * and the variable, and on a terminal one readable line besides.
 */
describe('start-up configuration errors', () => {
  it.each([
    ['worker', { MAX_BATCH: '9999', REDIS_URL: 'redis://127.0.0.1:1' }, 'MAX_BATCH'],
    ['edge', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['gateway', { GATEWAY_MAX_CAMERAS: 'many' }, 'GATEWAY_MAX_CAMERAS'],
  ])('%s: one JSON line with E_CONFIG naming the variable, nothing else', (role, env, variable) => {
    const run = runRole(role, env);
    expect(run.status).toBe(1);
    expect(run.stderr).toEqual([]);
    const parsed = run.stdout.map(json);
    expect(parsed.every(Boolean), run.stdout.join('\n')).toBe(true);
    const failure = parsed.find((l) => l!['msg'] === 'start-up failed')!;
    expect(failure).toMatchObject({ level: 60, role, code: 'E_CONFIG' });
    expect(String(failure['err'])).toContain(variable);
  });

  it('on a terminal, also one readable line', () => {
    // script(1) gives the process a pseudo-terminal, as a shell would.
    const r = spawnSync(
      'script',
      ['-qec', `${process.execPath} ${join(repoRoot(), 'apps', 'worker', 'dist', 'main.js')}`, '/dev/null'],
      { cwd: repoRoot(), env: { PATH: process.env['PATH'], MAX_BATCH: '0' }, encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status).toBe(1);
    const lines = r.stdout.split(/\r?\n/).filter(Boolean);
    expect(lines.filter((l) => json(l)?.['code'] === 'E_CONFIG')).toHaveLength(1);
    const plain = lines.filter((l) => !json(l));
    expect(plain).toHaveLength(1);
    expect(plain[0]).toMatch(/^worker: start-up failed: E_CONFIG: MAX_BATCH: /);
  });
});
