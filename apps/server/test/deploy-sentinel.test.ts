import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '@vision/config';
import { repoRoot } from '@vision/testing';

const root = repoRoot();

function run(cmd: string, args: string[], env: Record<string, string> = {}): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.error) throw new Error(`${cmd} is not installed (see .ci/run): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** What the sentinels of deploy/sentinel/sentinel.conf monitor: name, host, port and quorum. */
function monitored(conf: string) {
  const m = /^sentinel monitor (\S+) (\S+) (\d+) (\d+)$/m.exec(conf);
  expect(m, 'a `sentinel monitor` line').not.toBeNull();
  return { name: m![1], host: m![2], port: Number(m![3]), quorum: Number(m![4]) };
}

type Services = Record<
  string,
  { environment?: Record<string, string>; command?: string[]; healthcheck?: unknown; profiles?: string[] }
>;

/** The `sentinel` profile and the k8s overlay: the roles' rendered settings load to the master the sentinels watch. */
describe('deployment files: Redis Sentinel', () => {
  const sentinelEnv = {
    JWT_SECRET: 'x'.repeat(32),
    GRAFANA_ADMIN_PASSWORD: 'test',
    REDIS_URL: '',
    STATE_REDIS_URL: '',
    REDIS_SENTINELS: 'sentinel-1:26379,sentinel-2:26379,sentinel-3:26379',
    REDIS_SENTINEL_NAME: 'vision',
    STATE_REDIS_SENTINEL_NAME: 'vision-state',
  };

  it('compose profile `sentinel`: a replica of `redis`, three sentinels watching it, roles configured by them', () => {
    const files = ['-f', 'docker-compose.yml', '-f', 'docker-compose.events.yml'];
    const r = run('docker-compose', [...files, '--profile', 'sentinel', '--profile', 'cpu', 'config'], sentinelEnv);
    expect(r.status, r.out).toBe(0);
    const services = (parse(r.out) as { services: Services }).services;
    const conf = monitored(readFileSync(join(root, 'deploy', 'sentinel', 'sentinel.conf'), 'utf8'));
    expect(conf).toMatchObject({ host: 'redis', port: 6379, quorum: 2 });
    expect(services['redis-replica'].command).toEqual(expect.arrayContaining(['--replicaof', 'redis', '6379']));
    // The state primary has a persistent replica and the same sentinels watch it under its own name.
    const stateReplica = services['redis-state-replica'].command ?? [];
    expect(stateReplica).toEqual(expect.arrayContaining(['--replicaof', 'redis-state', '6379', '--appendonly', 'yes']));
    const sentinelConf = readFileSync(join(root, 'deploy', 'sentinel', 'sentinel.conf'), 'utf8');
    expect(sentinelConf).toMatch(/^sentinel monitor vision-state redis-state 6379 2$/m);
    for (const s of ['redis-replica', 'redis-state-replica', 'sentinel-1', 'sentinel-2', 'sentinel-3']) {
      expect(services[s]?.healthcheck, s).toBeDefined();
      expect(services[s].profiles, s).toEqual(['sentinel']);
    }
    for (const s of ['sentinel-1', 'sentinel-2', 'sentinel-3']) {
      expect(JSON.stringify(services[s].command), s).toContain('redis-sentinel');
      expect(JSON.stringify(services[s]), s).toContain('deploy/sentinel/sentinel.conf');
    }
    // Every role that touches Redis loads, from its rendered environment, the master the sentinels watch.
    for (const role of ['edge-1', 'edge-2', 'worker-gpu', 'worker-cpu', 'events']) {
      const config = loadConfig(services[role].environment ?? {});
      expect(config.redisTarget, role).toEqual({
        sentinels: ['sentinel-1', 'sentinel-2', 'sentinel-3'].map((host) => ({ host, port: 26379 })),
        name: conf.name,
      });
      expect(config.stateRedisTarget, role).toMatchObject({ name: 'vision-state' });
    }
    // Without the profile nothing changes: one Redis, by URL.
    const plain = run('docker-compose', [...files, 'config'], {
      JWT_SECRET: 'x'.repeat(32),
      GRAFANA_ADMIN_PASSWORD: 't',
    });
    expect(plain.status, plain.out).toBe(0);
    const plainServices = (parse(plain.out) as { services: Services }).services;
    expect(loadConfig(plainServices['edge-1'].environment ?? {}).redisTarget).toBe('redis://redis:6379');
    expect(loadConfig(plainServices['edge-1'].environment ?? {}).stateRedisTarget).toBe('redis://redis-state:6379');
  });

  it('kubernetes overlay deploy/k8s-sentinel: roles and KEDA find the master set of the chart values', () => {
    const r = run('kubectl', ['kustomize', 'deploy/k8s-sentinel']);
    expect(r.status, r.out).toBe(0);
    const docs = parseAllDocuments(r.out).map((d) => d.toJS() as Record<string, never>);
    const values = parse(readFileSync(join(root, 'deploy', 'k8s-sentinel', 'redis-values.yaml'), 'utf8')) as {
      architecture: string;
      sentinel: { enabled: boolean; masterSet: string; quorum: number };
      replica: { replicaCount: number };
    };
    expect(values).toMatchObject({ architecture: 'replication', sentinel: { enabled: true, quorum: 2 } });
    expect(values.replica.replicaCount).toBeGreaterThanOrEqual(3);
    const config = docs.find((d) => d['kind'] === 'ConfigMap' && d['metadata']['name'] === 'vision-config')!;
    const loaded = loadConfig(config['data']);
    expect(loaded.redisTarget).toEqual({
      sentinels: [{ host: 'vision-redis.vision.svc.cluster.local', port: 26379 }],
      name: values.sentinel.masterSet,
    });
    const stateValues = parse(
      readFileSync(join(root, 'deploy', 'k8s-sentinel', 'redis-state-values.yaml'), 'utf8'),
    ) as {
      sentinel: { masterSet: string };
      replica: { persistence: { enabled: boolean } };
      commonConfiguration: string;
    };
    expect(stateValues.replica.persistence.enabled).toBe(true);
    expect(stateValues.commonConfiguration).toContain('appendonly yes');
    expect(loaded.stateRedisTarget).toEqual({
      sentinels: [{ host: 'vision-redis-state.vision.svc.cluster.local', port: 26379 }],
      name: stateValues.sentinel.masterSet,
    });
    const scaler = docs.find((d) => d['kind'] === 'ScaledObject') as unknown as {
      spec: { triggers: { type: string; metadata: Record<string, string> }[] };
    };
    expect(scaler.spec.triggers[0].type).toBe('redis-sentinel-streams');
    expect(scaler.spec.triggers[0].metadata).toMatchObject({
      addresses: 'vision-redis.vision.svc.cluster.local:26379',
      sentinelMaster: values.sentinel.masterSet,
    });
    // Every role that reaches Redis takes its settings from that ConfigMap (the gateway reaches the
    // edges only; the console is static files).
    const noRedis = new Set(['vision-gateway', 'vision-console']);
    for (const d of docs.filter((x) => x['kind'] === 'Deployment' && !noRedis.has(x['metadata']['name'])))
      expect(JSON.stringify(d), d['metadata']['name']).toContain('"configMapRef":{"name":"vision-config"}');
  });
});
