import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { repoRoot } from '@vision/testing';

const root = repoRoot();
const read = (...p: string[]) => readFileSync(join(root, ...p), 'utf8');

/** Redis settings given as `redis-server --name value...` arguments (compose's `command`). */
function argsConfig(command: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 1; i < command.length; i += 2) out.set(command[i].replace(/^--/, ''), command[i + 1]);
  return out;
}

/** Redis settings given as redis.conf lines (the Bitnami chart's `commonConfiguration`). */
function confConfig(conf: string): Map<string, string> {
  return new Map(
    conf
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => [l.split(/\s+/)[0], l.slice(l.indexOf(' ') + 1).replace(/^""$/, '')] as [string, string]),
  );
}

/** Frames must never reach a disk; state must: the append-only file, fsynced each second, and snapshots. */
function expectFrameRedis(c: Map<string, string>): void {
  expect(c.get('appendonly')).toBe('no');
  expect(c.get('save')).toBe('');
  expect(c.get('maxmemory-policy')).toBe('noeviction');
}
function expectStateRedis(c: Map<string, string>): void {
  expect(c.get('appendonly')).toBe('yes');
  expect(c.get('appendfsync')).toBe('everysec');
  expect(c.get('save')).toMatch(/^\d+ \d+( \d+ \d+)*$/);
  expect(c.get('maxmemory-policy')).toBe('noeviction');
}

describe('the two Redis of a site (docs/architecture.md)', () => {
  it('compose: frames on `redis` without persistence; state on `redis-state`, persisted on a named volume', () => {
    const r = spawnSync(
      'docker-compose',
      ['-f', 'docker-compose.yml', '-f', 'docker-compose.events.yml', '--profile', 'cpu', 'config'],
      { cwd: root, encoding: 'utf8', env: { ...process.env, JWT_SECRET: 'x'.repeat(32), GRAFANA_ADMIN_PASSWORD: 't' } },
    );
    if (r.error) throw new Error(`docker-compose is not installed (see .ci/run): ${r.error.message}`);
    expect(r.status, r.stderr).toBe(0);
    type Service = {
      command?: string[];
      volumes?: (string | { source: string; target: string })[];
      environment?: Record<string, string>;
      depends_on?: Record<string, unknown>;
    };
    const config = parse(r.stdout) as { services: Record<string, Service>; volumes: Record<string, unknown> };
    const { services } = config;
    expectFrameRedis(argsConfig(services['redis'].command!));
    expect(services['redis'].volumes ?? []).toEqual([]);
    const state = argsConfig(services['redis-state'].command!);
    expectStateRedis(state);
    // Its data directory is a named volume (a top-level one, not a host path), which outlives the container.
    const mounts = (services['redis-state'].volumes ?? []).map((v) =>
      typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : v,
    );
    expect(mounts.find((v) => v.target === state.get('dir'))?.source, `a volume at ${state.get('dir')}`).toBe(
      'redis-state',
    );
    expect(Object.keys(config.volumes)).toContain('redis-state');
    // Every role on Redis keeps frames on one and state on the other, and waits for both.
    const roles = Object.entries(services).filter(([, s]) => s.environment?.['REDIS_URL']);
    expect(roles.map(([n]) => n).sort()).toEqual(['edge-1', 'edge-2', 'events', 'worker-cpu', 'worker-gpu']);
    for (const [name, s] of roles) {
      expect(s.environment, name).toMatchObject({
        REDIS_URL: 'redis://redis:6379',
        STATE_REDIS_URL: 'redis://redis-state:6379',
      });
      expect(Object.keys(s.depends_on ?? {}), name).toEqual(expect.arrayContaining(['redis', 'redis-state']));
    }
  });

  it('kubernetes: the frame Redis has no persistence; the state Redis has a PVC, and config.yaml points at it', () => {
    type Values = { master: { persistence: { enabled: boolean; size?: string } }; commonConfiguration: string };
    const frames = parse(read('deploy', 'k8s', 'redis-values.yaml')) as Values;
    expect(frames.master.persistence.enabled).toBe(false);
    expectFrameRedis(confConfig(frames.commonConfiguration));
    const stateFile = read('deploy', 'k8s', 'redis-state-values.yaml');
    const state = parse(stateFile) as Values;
    expect(state.master.persistence).toMatchObject({ enabled: true, size: expect.stringMatching(/^\d+Gi$/) });
    expectStateRedis(confConfig(state.commonConfiguration));
    // The chart names the master Service `<release>-master`: the release its install line names.
    const release = /helm install (\S+) /.exec(stateFile)?.[1];
    const config = parseAllDocuments(read('deploy', 'k8s', 'config.yaml'))[0].toJS() as {
      data: Record<string, string>;
    };
    expect(config.data['STATE_REDIS_URL']).toBe(`redis://${release}-master.vision.svc.cluster.local:6379`);
    expect(config.data['REDIS_URL']).not.toBe(config.data['STATE_REDIS_URL']);
  });
});
