import Redis, { type RedisOptions } from 'ioredis';
import { VisionError } from '@vision/protocol';
import { WORKER_LIVENESS_MS, type RedisKeys } from './redis-keys';
import type { TransportHealth } from './transport';

export interface RedisConnectionOptions {
  /** For connections that run blocking reads: no command timeout. */
  blocking?: boolean;
  /**
   * Queue commands while disconnected (true) or fail them at once (false). Edges fail fast so a
   * client hears `E_UNAVAILABLE` instead of waiting on a dead socket. @defaultValue false
   */
  offlineQueue?: boolean;
  name: string;
}

/**
 * One place for connection policy: reconnect forever with capped backoff, never hang a request on
 * a broken connection, label connections so `CLIENT LIST` shows who is who.
 */
export function createRedis(url: string, opts: RedisConnectionOptions): Redis {
  const options: RedisOptions = {
    connectionName: opts.name,
    enableOfflineQueue: opts.offlineQueue ?? false,
    // Offline-queued commands wait for the reconnect however long it takes; the rest fail at once.
    maxRetriesPerRequest: opts.offlineQueue ? null : 0,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    reconnectOnError: () => false,
    lazyConnect: true,
    ...(opts.blocking ? {} : { commandTimeout: 2000 }),
  };
  const redis = new Redis(url, options);
  // Errors surface through the commands that fail; the event itself would crash the process if unhandled.
  redis.on('error', () => undefined);
  return redis;
}

/** Connects, tolerating a Redis that is not up yet: ioredis keeps retrying in the background. */
export async function connectTolerant(redis: Redis): Promise<void> {
  try {
    await redis.connect();
  } catch {
    // retryStrategy takes over; readiness reports the outage meanwhile.
  }
}

/**
 * Admission bounds the backlog by the consumer group's lag, which `XINFO GROUPS` reports from
 * Redis 7 on: below it MAX_QUEUE would silently not hold, so start-up refuses. A Redis that is not
 * up yet is checked by the first command that reaches it instead (the version rarely changes under
 * a running service; operators upgrade, not downgrade).
 */
export async function requireRedis7(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') return;
  const info = await redis.info('server');
  const version = /redis_version:([\d.]+)/.exec(info)?.[1] ?? '0';
  if (Number(version.split('.')[0]) < 7) throw new VisionError('E_CONFIG', `Redis 7 or newer is required; ${redis.options.host}:${redis.options.port} runs ${version}`);
}

/** Live workers and the consumer group's backlog and pending frames of one model's stream. */
export interface ModelQueue {
  workers: number;
  backlog: number | undefined;
  pending: number | undefined;
}

/** Per model: live workers, backlog and pending frames, in one round trip. Rejects when Redis cannot be reached. */
export async function modelQueues(redis: Redis, keys: RedisKeys, models: readonly string[]): Promise<Record<string, ModelQueue>> {
  const multi = redis.multi();
  for (const m of models) multi.zcount(keys.workers(m), Date.now() - WORKER_LIVENESS_MS, '+inf').call('XINFO', 'GROUPS', keys.stream(m));
  const replies = (await multi.exec()) ?? [];
  const out: Record<string, ModelQueue> = {};
  models.forEach((m, i) => {
    const [, workers] = replies[2 * i] as [unknown, number];
    const [groupsErr, groups] = replies[2 * i + 1] as [unknown, unknown[][]];
    const q: ModelQueue = { workers: Number(workers), backlog: 0, pending: 0 };
    // No stream yet (groupsErr) means nothing waits.
    for (const g of groupsErr ? [] : groups) {
      const f = new Map<string, unknown>();
      for (let j = 0; j < g.length; j += 2) f.set(String(g[j]), g[j + 1]);
      if (f.get('name') !== keys.group) continue;
      q.backlog = f.get('lag') == null ? undefined : Number(f.get('lag'));
      q.pending = Number(f.get('pending'));
    }
    out[m] = q;
  });
  return out;
}

/**
 * Health over several models: reachable, the fewest live workers any model has (0: some model has
 * none), and backlog and pending summed.
 */
export async function queueHealth(redis: Redis, keys: RedisKeys, models: readonly string[]): Promise<TransportHealth> {
  try {
    return combineQueues(Object.values(await modelQueues(redis, keys, models)));
  } catch {
    return { reachable: false, workers: 0, backlog: undefined, pending: undefined };
  }
}

export function combineQueues(qs: ModelQueue[]): TransportHealth {
  const sum = (f: (q: ModelQueue) => number | undefined) => qs.reduce<number | undefined>((acc, q) => (acc === undefined || f(q) === undefined ? undefined : acc + f(q)!), 0);
  return { reachable: true, workers: qs.length ? Math.min(...qs.map((q) => q.workers)) : 0, backlog: sum((q) => q.backlog), pending: sum((q) => q.pending) };
}
