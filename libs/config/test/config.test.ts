import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ConfigError, cpuCores, loadConfig, metricsPortFor, quotaCores, threadPoolSize } from '../src';

describe('loadConfig', () => {
  it('defaults to embedded mode with the demo model', () => {
    const c = loadConfig({});
    expect(c.redisTarget).toBeUndefined();
    expect(c.stateRedisTarget).toBeUndefined();
    expect(c.port).toBe(8080);
    expect(c.model.path).toBeUndefined();
    expect(metricsPortFor(c, 'edge')).toEqual({ port: 9464, explicit: false });
    // Distinct defaults, so an edge and a worker (and the gateway) share a host.
    expect(metricsPortFor(c, 'worker').port).not.toBe(metricsPortFor(c, 'edge').port);
    expect(metricsPortFor(loadConfig({ METRICS_PORT: '9999' }), 'worker')).toEqual({ port: 9999, explicit: true });
    expect(c.batching).toEqual({
      maxBatch: 2,
      maxWaitMs: 0,
      maxQueue: 64,
      engines: 1,
      hostFit: { enabled: true, pinned: { engines: false, intraOpThreads: false, maxBatch: false } },
      decodeConcurrency: availableParallelism(),
      batchSizes: undefined,
    });
    expect(loadConfig({ EXECUTION_PROVIDER: 'cuda' }).batching.maxBatch).toBe(8);
    expect(loadConfig({ EXECUTION_PROVIDER: 'cuda' }).model.intraOpThreads).toBe(0);
    expect(c.model.intraOpThreads).toBe(availableParallelism());
    expect(c.model.spinSingleFrames).toBe(true);
    expect(loadConfig({ EXECUTION_PROVIDER: 'cuda' }).model.spinSingleFrames).toBe(false);
    expect(loadConfig({ SPIN_SINGLE_FRAMES: 'false' }).model.spinSingleFrames).toBe(false);
    expect(c.frames.maxInFlight).toBe(2);
    expect(c.frames.pingIntervalMs).toBe(25_000);
    expect(c.edgeId).toMatch(/^edge-/);
  });

  it('parses numbers, booleans and the Redis URL', () => {
    const c = loadConfig({
      REDIS_URL: 'redis://127.0.0.1:6379/2',
      MAX_BATCH: '16',
      MAX_WAIT_MS: '5',
      CONF_THRESHOLD: '0.5',
      ALLOW_PROVIDER_FALLBACK: 'true',
      EXECUTION_PROVIDER: 'cuda',
      PORT: '',
      EDGE_ID: 'edge-a',
    });
    expect(c.redisTarget).toBe('redis://127.0.0.1:6379/2');
    expect(c.stateRedisTarget).toBe('redis://127.0.0.1:6379/2');
    expect(c.batching.maxBatch).toBe(16);
    expect(c.model).toMatchObject({ confThreshold: 0.5, allowProviderFallback: true, executionProvider: 'cuda' });
    expect(c.port).toBe(8080);
    expect(c.edgeId).toBe('edge-a');
    const sharded = loadConfig({ REDIS_URL: 'redis://a:6379, rediss://b:6380' });
    expect(sharded.redisTargets).toEqual(['redis://a:6379', 'rediss://b:6380']);
    expect(sharded.redisTarget).toBe('redis://a:6379');
    expect(() => loadConfig({ REDIS_URL: 'redis://a:6379,http://b' })).toThrow(/REDIS_URL/);
    expect(c.batching.batchSizes).toBeUndefined();
    expect(loadConfig({ BATCH_SIZES: '1, 4,8' }).batching.batchSizes).toEqual([1, 4, 8]);
    expect(() => loadConfig({ BATCH_SIZES: '8,4' })).toThrow(/BATCH_SIZES.*ascending/);
    expect(() => loadConfig({ BATCH_SIZES: '0' })).toThrow(/BATCH_SIZES/);
  });

  it('puts state on STATE_REDIS_URL, by default the first REDIS_URL', () => {
    expect(loadConfig({}).stateRedisTarget).toBeUndefined();
    expect(loadConfig({ REDIS_URL: 'redis://a:6379,redis://b:6379' }).stateRedisTarget).toBe('redis://a:6379');
    const split = loadConfig({ REDIS_URL: 'redis://frames:6379', STATE_REDIS_URL: 'rediss://state:6380/1' });
    expect(split.stateRedisTarget).toBe('rediss://state:6380/1');
    expect(split.stateRedisSetting).toBe('STATE_REDIS_URL');
    expect(split.redisTargets).toEqual(['redis://frames:6379']);
    expect(() => loadConfig({ REDIS_URL: 'redis://a', STATE_REDIS_URL: 'http://state' })).toThrow(/STATE_REDIS_URL/);
    expect(() => loadConfig({ STATE_REDIS_URL: 'redis://state:6379' })).toThrow(/STATE_REDIS_URL: needs REDIS_URL/);
    expect(() =>
      loadConfig({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'frames', STATE_REDIS_URL: 'redis://state:6379' }),
    ).toThrow(/STATE_REDIS_URL \/ REDIS_SENTINELS/);
  });

  it('names every offending variable', () => {
    let err: unknown;
    try {
      loadConfig({ MAX_BATCH: '0', CONF_THRESHOLD: 'high', REDIS_URL: 'http://x', EXECUTION_PROVIDER: 'rocm' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const name of ['MAX_BATCH', 'CONF_THRESHOLD', 'REDIS_URL', 'EXECUTION_PROVIDER']) expect(msg).toContain(name);
  });

  it('validates security settings: one key source, a strong HS256 secret, TLS pairs, metrics off PORT', () => {
    expect(() => loadConfig({ JWT_SECRET: 'short' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ JWT_SECRET: 'x'.repeat(32), JWKS_FILE: 'keys.json' })).toThrow(/exactly one key source/);
    expect(() => loadConfig({ AUTH_DISABLED: 'false' })).toThrow(/AUTH_DISABLED/);
    const [secret, previous] = ['n'.repeat(32), 'o'.repeat(32)];
    const rotation = { JWT_SECRET: secret, JWT_SECRET_PREVIOUS: previous };
    expect(loadConfig({ ...rotation, JWT_SECRET_PREVIOUS_UNTIL: '2026-12-08T06:00:00Z' }).auth).toMatchObject({
      previousSecret: previous,
      previousSecretUntil: Date.parse('2026-12-08T06:00:00Z'),
    });
    expect(() => loadConfig(rotation)).toThrow(/JWT_SECRET_PREVIOUS: needs JWT_SECRET_PREVIOUS_UNTIL/);
    expect(() => loadConfig({ ...rotation, JWT_SECRET_PREVIOUS_UNTIL: 'tomorrow' })).toThrow(
      /JWT_SECRET_PREVIOUS_UNTIL/,
    );
    expect(() =>
      loadConfig({ JWT_SECRET_PREVIOUS: previous, JWT_SECRET_PREVIOUS_UNTIL: '2026-12-08T06:00:00Z' }),
    ).toThrow(/JWT_SECRET_PREVIOUS: needs JWT_SECRET/);
    expect(() => loadConfig({ BULK_WEBHOOK_SECRET_PREVIOUS: previous })).toThrow(/needs BULK_WEBHOOK_SECRET/);
    expect(() => loadConfig({ TLS_CERT_FILE: 'cert.pem' })).toThrow(/TLS_KEY_FILE/);
    expect(() => loadConfig({ PORT: '9000', METRICS_PORT: '9000' })).toThrow(/METRICS_PORT/);
    expect(() => loadConfig({ JWT_SECRET: 'change-me-to-at-least-32-random-characters' })).toThrow(
      /JWT_SECRET: this is the example value/,
    );
    const c = loadConfig({
      JWT_SECRET: 'x'.repeat(32),
      ALLOWED_ORIGINS: 'https://a.example, https://b.example',
      TRUSTED_PROXIES: 'loopback,10.0.0.0/8',
    });
    expect(c.auth).toMatchObject({
      secret: 'x'.repeat(32),
      allowedOrigins: ['https://a.example', 'https://b.example'],
      trustedProxies: ['loopback', '10.0.0.0/8'],
      allowNoOrigin: true,
    });
  });
});

describe('libuv thread pool', () => {
  /** Threads of a child process after its first pool job, with the pool sized by `applyThreadPoolSize` for `env`. */
  const threadsWith = (env: Record<string, string>) => {
    const script = `
      const { applyThreadPoolSize, loadConfig } = require(${JSON.stringify(join(__dirname, '..', 'dist'))});
      applyThreadPoolSize(loadConfig(process.env));
      const printThreads = () => console.log(require('fs').readdirSync('/proc/self/task').length);
      require('fs').readFile(__filename || '/etc/hostname', () => setTimeout(printThreads, 100));`;
    const childEnv: Record<string, string> = { PATH: process.env['PATH'] ?? '', ...env };
    return Number(execFileSync(process.execPath, ['-e', script], { env: childEnv }).toString());
  };

  it('is sized to the decoders plus two before it starts, unless UV_THREADPOOL_SIZE says otherwise', () => {
    expect(threadPoolSize(loadConfig({ DECODE_CONCURRENCY: '9' }))).toBe(11);
    expect(threadPoolSize(loadConfig({ DECODE_CONCURRENCY: '1' }))).toBe(4);
    const sized = threadsWith({ DECODE_CONCURRENCY: '9' });
    const given = threadsWith({ DECODE_CONCURRENCY: '9', UV_THREADPOOL_SIZE: '4' });
    expect(sized - given).toBe(11 - 4);
  });
});

describe('cpuCores', () => {
  it("reads a container's CPU quota (cgroup v2 and v1), rounding a part core up", () => {
    expect(quotaCores('max 100000\n')).toBeUndefined();
    expect(quotaCores('200000 100000\n')).toBe(2);
    expect(quotaCores('150000 100000')).toBe(2);
    expect(quotaCores('50000 100000')).toBe(1);
    expect(quotaCores(undefined, { quotaUs: '-1\n', periodUs: '100000\n' })).toBeUndefined();
    expect(quotaCores(undefined, { quotaUs: '400000\n', periodUs: '100000\n' })).toBe(4);
    expect(quotaCores(undefined)).toBeUndefined();
    expect(cpuCores()).toBeGreaterThanOrEqual(1);
    expect(cpuCores()).toBeLessThanOrEqual(availableParallelism());
  });
});
