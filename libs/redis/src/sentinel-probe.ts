import Redis from 'ioredis';
import { VisionError } from '@vision/wire';
import { describeRedisTarget, type RedisTarget, type SentinelAddress, type SentinelTarget } from './target';

type Answer = { address: SentinelAddress; master: [string, string] | null } | { address: SentinelAddress; err: Error };

/**
 * Start-up check of a sentinel target, because ioredis alone would retry a wrong one forever with
 * an error per try: asks every sentinel where the master is. None answers: `E_UNAVAILABLE` (the
 * sentinels may still be starting; the role comes up not ready and keeps trying). Sentinels answer
 * but none knows the master name: `E_CONFIG` (a wrong REDIS_SENTINEL_NAME, which no retry fixes).
 * A URL target has nothing to check here.
 */
export async function probeRedisTarget(target: RedisTarget, setting: string): Promise<void> {
  if (typeof target === 'string') return;
  const answers = await Promise.all(target.sentinels.map((address) => ask(target, address)));
  if (answers.some((a) => 'master' in a && a.master !== null)) return;
  const reached = answers.filter((a) => 'master' in a);
  if (reached.length > 0)
    throw new VisionError(
      'E_CONFIG',
      `${setting}: the sentinels (${reached.map((a) => hostPort(a.address)).join(', ')}) monitor no master ` +
        `named "${target.name}"`,
    );
  const errors = answers.map((a) => `${hostPort(a.address)}: ${'err' in a ? a.err.message : '?'}`).join('; ');
  throw new VisionError('E_UNAVAILABLE', `no sentinel answered for ${describeRedisTarget(target)} (${errors})`);
}

async function ask(target: SentinelTarget, address: SentinelAddress): Promise<Answer> {
  const sentinel = new Redis({
    host: address.host,
    port: address.port,
    ...(target.sentinelPassword ? { password: target.sentinelPassword } : {}),
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  sentinel.on('error', () => undefined);
  try {
    await sentinel.connect();
    const master = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', target.name)) as [string, string] | null;
    return { address, master };
  } catch (err) {
    return { address, err: err as Error };
  } finally {
    sentinel.disconnect();
  }
}

function hostPort(a: SentinelAddress): string {
  return `${a.host}:${a.port}`;
}
