import type { RedisOptions } from 'ioredis';
import { VisionError } from '@vision/wire';

/** One Redis Sentinel, as `host:port`. */
export interface SentinelAddress {
  host: string;
  port: number;
}

/**
 * A master found through Redis Sentinel: ioredis asks the sentinels where `name`'s primary is, and
 * again after a failover, so every connection follows the primary without a restart.
 */
export interface SentinelTarget {
  sentinels: readonly SentinelAddress[];
  /** The master group name the sentinels monitor (`sentinel monitor <name> ...`). */
  name: string;
  /** AUTH of the sentinels themselves (`requirepass` in sentinel.conf), when they ask for one. */
  sentinelPassword?: string;
  /** AUTH of the primary and replicas, when they ask for one. */
  password?: string;
}

/** Where a connection goes: a `redis://` / `rediss://` URL, or a master behind sentinels. */
export type RedisTarget = string | SentinelTarget;

const NAME = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Checks a target once, where it is made (libs/config builds them from settings; tests build their
 * own), so a bad one is an `E_CONFIG` naming what is wrong instead of a connection that never comes up.
 */
export function validateRedisTarget(target: RedisTarget): RedisTarget {
  if (typeof target === 'string') {
    if (!/^rediss?:\/\//.test(target)) throw new VisionError('E_CONFIG', `not a redis:// or rediss:// URL: ${target}`);
    return target;
  }
  if (target.sentinels.length === 0) throw new VisionError('E_CONFIG', 'a sentinel target needs at least one sentinel');
  for (const s of target.sentinels)
    if (!s.host || !Number.isInteger(s.port) || s.port < 1 || s.port > 65535)
      throw new VisionError('E_CONFIG', `not a sentinel address: ${s.host}:${s.port}`);
  if (!NAME.test(target.name)) throw new VisionError('E_CONFIG', `not a sentinel master name: "${target.name}"`);
  return target;
}

/** How logs and errors name a target (never with its passwords). */
export function describeRedisTarget(target: RedisTarget): string {
  if (typeof target === 'string') return target.replace(/\/\/[^@/]*@/, '//***@');
  return `master "${target.name}" via sentinels ${target.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
}

/** Sentinel lookups back off like reconnects do: a dead sentinel set costs a try every two seconds, not a hot loop. */
const sentinelBackoff = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000);

/** The ioredis options that point a connection at a sentinel target (a URL goes to ioredis as it is). */
export function sentinelOptions(target: SentinelTarget): RedisOptions {
  return {
    sentinels: target.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: target.name,
    role: 'master',
    ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
    ...(target.password ? { password: target.password } : {}),
    sentinelRetryStrategy: sentinelBackoff,
    sentinelCommandTimeout: 1000,
    // ioredis' failoverDetector is left off: a +switch-master that arrives while a connection is
    // still reconnecting ends that connection for good ("Connection is closed", status end). A dead
    // primary closes its sockets, and a demoted one answers writes with READONLY, which reconnects.
    reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
  };
}
