import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { processEnv } from '@vision/config';

export interface TestRedis {
  url: string;
  /** Where it came from: an external URL, a testcontainers container, or a local redis-server. */
  kind: 'external' | 'container' | 'process';
  /** The redis-server's pid when this harness started it (for CPU accounting in benchmarks). */
  pid(): number | undefined;
  /** Kills the server (SIGKILL) and starts a fresh, empty one on the same port. Only for `process`. */
  restart(): Promise<void>;
  /** An outage: kills the server, and `up` starts a fresh, empty one on the same port. Only for `process`. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

/** A random key prefix per test, so tests never see each other's streams on a shared Redis. */
export function uniquePrefix(label = 't'): string {
  return `test:${label}:${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under `prefix` (SCAN, never FLUSH: the Redis may be shared). */
export async function cleanupPrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A Redis for integration tests: `TEST_REDIS_URL` (or `REDIS_URL`) if set; else a testcontainers `redis:7` when a
 * Docker engine is reachable; else a `redis-server` child process on a free port (what CI uses).
 * Fault tests that restart Redis pass `{ own: true }` to always get a process they control.
 */
export async function startTestRedis(opts: { own?: boolean } = {}): Promise<TestRedis> {
  const env = processEnv();
  const external = env['TEST_REDIS_URL'] ?? env['REDIS_URL'];
  if (external && !opts.own) {
    const refuse = () => Promise.reject(new Error('cannot restart an external Redis'));
    return {
      url: external,
      kind: 'external',
      pid: () => undefined,
      restart: refuse,
      down: refuse,
      up: refuse,
      stop: async () => undefined,
    };
  }
  if (!opts.own && dockerReachable()) {
    try {
      const { GenericContainer } = await import('testcontainers');
      const c = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
      return {
        url: `redis://${c.getHost()}:${c.getMappedPort(6379)}`,
        kind: 'container',
        pid: () => undefined,
        restart: () => Promise.reject(new Error('restart needs a process-backed Redis')),
        down: () => Promise.reject(new Error('an outage needs a process-backed Redis')),
        up: () => Promise.reject(new Error('an outage needs a process-backed Redis')),
        stop: async () => {
          await c.stop();
        },
      };
    } catch {
      // No usable engine after all: fall through to a local process.
    }
  }
  const port = await freePort();
  let proc = await launch(port);
  return {
    url: `redis://127.0.0.1:${port}`,
    kind: 'process',
    pid: () => proc.pid,
    async restart() {
      await killRedisServer(proc);
      proc = await launch(port);
    },
    async down() {
      await killRedisServer(proc);
    },
    async up() {
      proc = await launch(port);
    },
    async stop() {
      await killRedisServer(proc);
    },
  };
}

function dockerReachable(): boolean {
  return Boolean(processEnv()['DOCKER_HOST']) || existsSync('/var/run/docker.sock');
}

async function launch(port: number): Promise<ChildProcess> {
  return launchRedisServer(port, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
}

/**
 * Starts `redis-server` with `args` and resolves once it answers PING on `port` (which it does only after
 * it has loaded its data: LOADING before).
 */
export async function launchRedisServer(port: number, args: string[]): Promise<ChildProcess> {
  const proc = spawn('redis-server', args, { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      await r.ping();
      return proc;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer`);
      await sleep(20);
    } finally {
      r.disconnect();
    }
  }
}

/** SIGKILL: no shutdown save; resolves once the process is gone. */
export async function killRedisServer(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
}
