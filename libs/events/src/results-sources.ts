import type Redis from 'ioredis';
import { resultsShard, resultsStreamKey } from '@vision/results-stream';

/** One shard's new entries, as XREAD returned them: `[id, fields]`. */
export interface ShardEntries {
  shard: number;
  entries: [string, string[]][];
}

/**
 * The results streams of every Redis a site's workers write to (REDIS_URL=a,b,...: each shard of
 * the queue has its own workers, which append to their own Redis). The events service numbers them
 * as one range: shard `r * RESULTS_SHARDS + s` is stream `s` on Redis `r`, so leases, checkpoints
 * and events streams (all on the first Redis) cover every camera. With one Redis the numbers are
 * the streams' own.
 */
export class ResultsSources {
  constructor(
    /** One blocking connection per Redis, in REDIS_URL order. */
    private readonly readers: readonly Redis[],
    private readonly prefix: string,
    /** RESULTS_SHARDS: streams per Redis, as the workers hash cameras. */
    private readonly perRedis: number,
  ) {}

  /** Every shard of the site, all Redis together. */
  get shards(): number {
    return this.readers.length * this.perRedis;
  }

  /**
   * The shards `camera` may be on: its stream on each Redis (which Redis a camera's frames go to
   * depends on its token subject too, which the results stream does not carry).
   */
  shardsOf(camera: string): number[] {
    const s = resultsShard(camera, this.perRedis);
    return this.readers.map((_, r) => r * this.perRedis + s);
  }

  /** Which Redis (REDIS_URL order) a shard's stream is on. */
  redisOf(shard: number): number {
    return Math.floor(shard / this.perRedis);
  }

  /**
   * New entries of the shards in `from` (shard -> last id read): one XREAD per Redis, all at once,
   * each blocking up to `blockMs`. A Redis that fails does not hold up the others; its error comes
   * back with the shards it would have read.
   */
  async read(
    from: ReadonlyMap<number, string>,
    count: number,
    blockMs: number,
  ): Promise<{ read: ShardEntries[]; failed: { shards: number[]; err: Error }[] }> {
    const byRedis = new Map<number, number[]>();
    for (const shard of from.keys()) {
      const r = Math.floor(shard / this.perRedis);
      byRedis.set(r, [...(byRedis.get(r) ?? []), shard]);
    }
    const read: ShardEntries[] = [];
    const failed: { shards: number[]; err: Error }[] = [];
    await Promise.all(
      [...byRedis].map(async ([r, shards]) => {
        const keys = shards.map((shard) => resultsStreamKey(this.prefix, shard % this.perRedis));
        try {
          const res = (await this.readers[r].xread(
            'COUNT',
            count,
            'BLOCK',
            blockMs,
            'STREAMS',
            ...keys,
            ...shards.map((shard) => from.get(shard)!),
          )) as [string, [string, string[]][]][] | null;
          for (const [key, entries] of res ?? []) read.push({ shard: shards[keys.indexOf(key)], entries });
        } catch (err) {
          failed.push({ shards, err: err as Error });
        }
      }),
    );
    return { read, failed };
  }
}
