import { z } from 'zod';
import { list, setting, type Loaded } from './settings';

/** A sentinel as `host:port`. */
const sentinelAddress = z
  .string()
  .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'host:port expected')
  .transform((v) => {
    const at = v.lastIndexOf(':');
    return { host: v.slice(0, at), port: Number(v.slice(at + 1)) };
  })
  .refine((a) => a.port >= 1 && a.port <= 65535, 'port must be 1-65535');
const masterName = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'letters, digits, ".", "_" or "-" only');

/**
 * Where a role's Redis is: URLs (one, or the shards cameras are spread over), or masters found
 * through Redis Sentinel (docs/configuration.md#redis-sentinel). Only libs/config reads them; roles
 * get resolved targets (`RedisEndpoint`).
 */
export const REDIS_SETTINGS = {
  // One URL, or (edges and the events service) several: the shards cameras are spread over (docs/scaling.md).
  redisUrls: setting('REDIS_URL', list.pipe(z.array(z.url({ protocol: /^rediss?$/ })).min(1)).optional()),
  // What a site builds up (rules, counts, events, revocations, jobs), on a Redis that persists; frames stay on
  // REDIS_URL, which never writes to disk (docs/architecture.md). Unset: the first REDIS_URL.
  stateRedisUrl: setting('STATE_REDIS_URL', z.url({ protocol: /^rediss?$/ }).optional()),
  sentinels: setting('REDIS_SENTINELS', list.pipe(z.array(sentinelAddress).min(1)).optional()),
  sentinelName: setting('REDIS_SENTINEL_NAME', masterName.optional()),
  // The state master's own sentinels, when another set watches it (k8s: a second chart release).
  // Unset: REDIS_SENTINELS.
  stateSentinels: setting('STATE_REDIS_SENTINELS', list.pipe(z.array(sentinelAddress).min(1)).optional()),
  // A site with a state Redis beside the frames Redis names its master here; unset: state shares the frames master.
  stateSentinelName: setting('STATE_REDIS_SENTINEL_NAME', masterName.optional()),
  sentinelPassword: setting('REDIS_SENTINEL_PASSWORD', z.string().min(1).optional()),
  // A URL carries its own password; a master found through sentinels takes this one.
  password: setting('REDIS_PASSWORD', z.string().min(1).optional()),
} as const;

/** A master behind sentinels, in the shape libs/redis' `SentinelTarget` takes. */
export interface SentinelEndpoint {
  sentinels: { host: string; port: number }[];
  name: string;
  sentinelPassword?: string;
  password?: string;
}

/** A `redis://` URL or a master behind sentinels: what libs/redis' `createRedis` connects to. */
export type RedisEndpoint = string | SentinelEndpoint;

export interface ResolvedRedis {
  /** Unset: embedded mode (one process, in-memory transport). The first shard when there are several. */
  redisTarget: RedisEndpoint | undefined;
  /** Every frames shard (one entry unless an edge spreads cameras over several Redis instances). */
  redisTargets: RedisEndpoint[];
  /** Rules, counts, events, revocations, bulk jobs: STATE_REDIS_URL, the first shard, or their sentinel master. */
  stateRedisTarget: RedisEndpoint | undefined;
  /** The setting a start-up error about the frames or state target names. */
  redisSetting: string;
  stateRedisSetting: string;
}

/** Resolves the Redis settings to targets; `fail` reports a combination that makes no sense, naming the settings. */
export function resolveRedis(e: Loaded<typeof REDIS_SETTINGS>, fail: (issue: string) => never): ResolvedRedis {
  if (!e.sentinels) {
    for (const [value, name] of [
      [e.sentinelName, 'REDIS_SENTINEL_NAME'],
      [e.stateSentinelName, 'STATE_REDIS_SENTINEL_NAME'],
      [e.stateSentinels, 'STATE_REDIS_SENTINELS'],
      [e.sentinelPassword, 'REDIS_SENTINEL_PASSWORD'],
      [e.password, 'REDIS_PASSWORD'],
    ] as const)
      if (value !== undefined) fail(`${name}: only used with REDIS_SENTINELS, which is unset`);
    const urls = e.redisUrls ?? [];
    // State beside an in-memory frame queue would be a site with no Redis for frames but one for state.
    if (e.stateRedisUrl && !urls.length) fail('STATE_REDIS_URL: needs REDIS_URL (embedded mode keeps no state Redis)');
    return {
      redisTarget: urls[0],
      redisTargets: urls,
      stateRedisTarget: e.stateRedisUrl ?? urls[0],
      redisSetting: 'REDIS_URL',
      stateRedisSetting: e.stateRedisUrl ? 'STATE_REDIS_URL' : 'REDIS_URL',
    };
  }
  // Sentinels find the primary; a URL beside them would be a second, unmanaged answer to the same question.
  if (e.redisUrls)
    fail('REDIS_URL / REDIS_SENTINELS: set one (with REDIS_SENTINELS the primary is found through the sentinels)');
  if (e.stateRedisUrl)
    fail('STATE_REDIS_URL / REDIS_SENTINELS: with sentinels, name the state master in STATE_REDIS_SENTINEL_NAME');
  if (!e.sentinelName) return fail('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the frames master)');
  const auth = {
    ...(e.sentinelPassword ? { sentinelPassword: e.sentinelPassword } : {}),
    ...(e.password ? { password: e.password } : {}),
  };
  const frames: SentinelEndpoint = { sentinels: e.sentinels, name: e.sentinelName, ...auth };
  const state: SentinelEndpoint = {
    ...frames,
    sentinels: e.stateSentinels ?? e.sentinels,
    name: e.stateSentinelName ?? e.sentinelName,
  };
  return {
    redisTarget: frames,
    redisTargets: [frames],
    stateRedisTarget: state,
    redisSetting: 'REDIS_SENTINEL_NAME',
    stateRedisSetting: e.stateSentinelName ? 'STATE_REDIS_SENTINEL_NAME' : 'REDIS_SENTINEL_NAME',
  };
}
