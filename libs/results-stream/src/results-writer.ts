import type Redis from 'ioredis';
import type { ChainableCommander } from 'ioredis';
import { encodeResultsEntry, type ResultsEntry } from './results-entry';
import { resultsShard, resultsStreamKey } from './results-keys';

/**
 * Appends entries to their cameras' shards in one pipeline (one round trip per batch), each shard
 * capped at about `maxLen` entries (`MAXLEN ~`: Redis trims whole nodes, which is cheap).
 */
export async function appendResults(
  redis: Redis,
  prefix: string,
  shards: number,
  maxLen: number,
  entries: readonly ResultsEntry[],
): Promise<void> {
  if (!entries.length) return;
  const pipe = redis.pipeline();
  queueResults(pipe, prefix, shards, maxLen, entries);
  const replies = await pipe.exec();
  const failed = replies?.find(([err]) => err);
  if (failed) throw failed[0]!;
}

/** Queues the appends in a pipeline or MULTI of the caller's (a worker acknowledges the frames in the same one). */
export function queueResults(
  pipe: ChainableCommander,
  prefix: string,
  shards: number,
  maxLen: number,
  entries: readonly ResultsEntry[],
): void {
  for (const e of entries)
    pipe.xadd(
      resultsStreamKey(prefix, resultsShard(e.camera, shards)),
      'MAXLEN',
      '~',
      maxLen,
      '*',
      ...encodeResultsEntry(e),
    );
}
