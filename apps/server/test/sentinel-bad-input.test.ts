import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  modelsDir,
  repoRoot,
  startSentinelSite,
  startService,
  type SentinelSite,
  type ServiceProcess,
} from '@vision/testing';

const MODEL = { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') };

function run(script: string, args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [join(repoRoot(), script), ...args], {
    cwd: repoRoot(),
    env: { PATH: process.env['PATH'], ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, stdout: r.stdout.split('\n').filter(Boolean), stderr: r.stderr };
}

/** Bad sentinel settings: each a clear error with a stable code, said once (docs/configuration.md#redis-sentinel). */
describe('Redis Sentinel bad input', () => {
  let site: SentinelSite;

  beforeAll(async () => {
    site = await startSentinelSite();
  }, 30_000);

  afterAll(async () => {
    await site?.stop();
  });

  it.each(['edge', 'worker', 'events'])(
    '%s: a master name no sentinel monitors stops it with E_CONFIG naming the setting',
    (role) => {
      const env = {
        REDIS_SENTINELS: site.sentinelsSetting,
        REDIS_SENTINEL_NAME: 'not-monitored',
        AUTH_DISABLED: 'true',
        ...MODEL,
      };
      const r = run(`apps/${role}/dist/main.js`, [], env);
      expect(r.status, r.stdout.join('\n')).toBe(1);
      const failures = r.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['level'] === 60);
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ code: 'E_CONFIG', msg: 'start-up failed' });
      expect(String(failures[0]['err'])).toMatch(
        /^REDIS_SENTINEL_NAME: the sentinels .* monitor no master named "not-monitored"/,
      );
    },
  );

  it('the token tool: --revoke through sentinels that do not know the master fails with E_CONFIG', () => {
    const env = { REDIS_SENTINELS: site.sentinelsSetting, REDIS_SENTINEL_NAME: 'not-monitored' };
    const r = run('apps/tools/dist/token.js', ['--revoke', 'jti-1'], env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^token: E_CONFIG: REDIS_SENTINEL_NAME: .*no master named "not-monitored"/);
  });

  describe('no live sentinel', () => {
    let worker: ServiceProcess;

    beforeAll(async () => {
      const dead = [await freePort(), await freePort()].map((p) => `127.0.0.1:${p}`).join(',');
      worker = await startService('worker', { REDIS_SENTINELS: dead, REDIS_SENTINEL_NAME: site.name, ...MODEL });
    }, 30_000);

    afterAll(async () => {
      await worker?.kill('SIGKILL');
    });

    it('starts not ready, says E_UNAVAILABLE once, and does not log every retry', async () => {
      await new Promise((r) => setTimeout(r, 6000));
      const ready = await fetch(`http://127.0.0.1:${worker.metricsPort}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: Record<string, boolean> }).checks).toMatchObject({ queue: false });
      const loud = worker.logs.filter((l) => Number(l['level']) >= 40);
      console.log('no-sentinel lines:', JSON.stringify(loud.map((l) => l['msg'])));
      const probe = loud.filter((l) => l['msg'] === 'Redis Sentinel unreachable; not ready until a sentinel answers');
      expect(probe).toHaveLength(1);
      expect(probe[0]).toMatchObject({ code: 'E_UNAVAILABLE' });
      expect(String(probe[0]['err'])).toContain('no sentinel answered');
      // Then one outage line for all connections, however many retries there were.
      expect(loud.filter((l) => l['msg'] === 'redis unreachable')).toHaveLength(1);
      expect(loud.length).toBeLessThanOrEqual(3);
    });
  });
});
