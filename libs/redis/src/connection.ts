import Redis, { type RedisOptions } from 'ioredis';
import { VisionError } from '@vision/wire';
import { sentinelOptions, validateRedisTarget, type RedisTarget } from './target';

export interface RedisConnectionOptions {
  /** For connections that run blocking reads: no command timeout. */
  blocking?: boolean;
  /**
   * Queue commands while disconnected (true) or fail them at once (false). Edges fail fast so a
   * client hears `E_UNAVAILABLE` instead of waiting on a dead socket. Absent: fail at once.
   */
  offlineQueue?: boolean;
  name: string;
  /**
   * Told when the connection goes down (with the error) and comes back: the process's outage log
   * (one line per outage, not one per failed command).
   */
  onState?: (state: 'down' | 'up', name: string, err?: Error) => void;
}

/**
 * One place for connection policy: reconnect forever with capped backoff, never hang a request on
 * a broken connection, label connections so `CLIENT LIST` shows who is who. The same policy holds
 * for a URL and for a master behind sentinels (which ioredis follows across failovers).
 */
export function createRedis(target: RedisTarget, opts: RedisConnectionOptions): Redis {
  validateRedisTarget(target);
  const options: RedisOptions = {
    connectionName: opts.name,
    enableOfflineQueue: opts.offlineQueue === true,
    // Offline-queued commands wait for the reconnect however long it takes; the rest fail at once.
    maxRetriesPerRequest: opts.offlineQueue ? null : 0,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    reconnectOnError: () => false,
    lazyConnect: true,
    ...(opts.blocking ? {} : { commandTimeout: 2000 }),
  };
  const redis =
    typeof target === 'string' ? new Redis(target, options) : new Redis({ ...options, ...sentinelOptions(target) });
  // Errors surface through the commands that fail; the event itself would crash the process if unhandled.
  redis.on('error', (err: Error) => opts.onState?.('down', opts.name, err));
  if (opts.onState) redis.on('ready', () => opts.onState?.('up', opts.name));
  return redis;
}

/**
 * Connects, tolerating a Redis that is not up yet: ioredis keeps retrying in the background, and
 * readiness reports the outage meanwhile. A master behind sentinels that none answers for leaves
 * `connect()` pending while ioredis retries the sentinels itself: its first error ends the wait
 * the way a refused connection does.
 */
export async function connectTolerant(redis: Redis): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = () => {
      redis.off('error', done);
      resolve();
    };
    redis.once('error', done);
    redis.connect().then(done, done);
  });
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
  // A master behind sentinels is named by its group; a URL's by host and port.
  const server = redis.options.name ?? `${redis.options.host}:${redis.options.port}`;
  if (Number(version.split('.')[0]) < 7)
    throw new VisionError('E_CONFIG', `Redis 7 or newer is required; ${server} runs ${version}`);
}
