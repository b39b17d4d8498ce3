import type Redis from 'ioredis';
import { WORKER_LIVENESS_MS, type RedisKeys } from './redis-keys';
import { combineQueues, type QueueCounts, type TransportHealth } from './transport';

/** Per model: live workers, backlog and pending frames, in one round trip. Rejects when Redis cannot be reached. */
export async function modelQueues(
  redis: Redis,
  keys: RedisKeys,
  models: readonly string[],
): Promise<Record<string, QueueCounts>> {
  const multi = redis.multi();
  for (const m of models)
    multi.zcount(keys.workers(m), Date.now() - WORKER_LIVENESS_MS, '+inf').call('XINFO', 'GROUPS', keys.stream(m));
  const replies = (await multi.exec()) ?? [];
  const out: Record<string, QueueCounts> = {};
  models.forEach((m, i) => {
    const [, workers] = replies[2 * i] as [unknown, number];
    const [groupsErr, groups] = replies[2 * i + 1] as [unknown, unknown[][]];
    const q: QueueCounts = { workers: Number(workers), backlog: 0, pending: 0 };
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
