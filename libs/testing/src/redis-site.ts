import { cleanupPrefix, startTestRedis, uniquePrefix, type TestRedis } from './redis-server';
import { startService, type ServiceProcess, type ServiceRole } from './service-process';

/**
 * A site of real processes on one test Redis: every service started through it gets the Redis URL, a
 * key prefix of its own and the site's common settings; `stop` kills them all, deletes the prefix and
 * stops the Redis it started. The end-to-end suites share this set-up so each spells out only the
 * settings that make it different.
 */
export interface RedisSite {
  readonly redis: TestRedis;
  readonly prefix: string;
  /** REDIS_URL, REDIS_PREFIX and the common settings: what a service or an in-process client of this site needs. */
  readonly env: Record<string, string>;
  /** Every service started so far, in start order. */
  readonly services: ServiceProcess[];
  /** Starts `role` with the site's settings plus `env` (which wins), and keeps it for `stop`. */
  start(role: ServiceRole, env?: Record<string, string>, timeoutMs?: number): Promise<ServiceProcess>;
  /** Kills every service (SIGKILL: nothing to drain in a test), then removes the site's keys and its Redis. */
  stop(): Promise<void>;
}

export interface RedisSiteOptions {
  /** Settings every service of the site gets (the model, log level, authentication). */
  env?: Record<string, string>;
  /** A redis-server of the site's own even when a shared Redis is configured (for tests that kill it). */
  ownRedis?: boolean;
}

export async function startRedisSite(label: string, opts: RedisSiteOptions = {}): Promise<RedisSite> {
  const redis = await startTestRedis({ own: opts.ownRedis === true });
  const prefix = uniquePrefix(label);
  const env = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, ...opts.env };
  const services: ServiceProcess[] = [];
  return {
    redis,
    prefix,
    env,
    services,
    async start(role, extra = {}, timeoutMs) {
      const service = await startService(role, { ...env, ...extra }, timeoutMs);
      services.push(service);
      return service;
    },
    async stop() {
      await Promise.all(services.splice(0).map((service) => service.kill('SIGKILL')));
      await cleanupPrefix(redis.url, prefix);
      await redis.stop();
    },
  };
}
