import Redis from 'ioredis';
import { bulkKeys, jobQueueName } from '@vision/bulk';
import type { SiteEvent } from '@vision/events';
import { schemaVersionKey } from '@vision/redis';

/** What a site has built up in its state Redis, read through a connection of its own. */
export interface StateSnapshot {
  apiRules: Record<string, string>;
  counts: Record<string, string>;
  /** Every events-stream entry, by shard: [entry id, event]. */
  events: [string, SiteEvent][][];
  /** Field names of each shard's checkpoint (`pos`, `cam:<id>`, `out:<name>`), and its read position. */
  checkpoints: { fields: string[]; pos: string | undefined }[];
  revoked: string[];
  job: Record<string, string>;
  /** Job ids waiting in BullMQ's queue of the job's model. */
  queued: string[];
  schemaVersion: string | null;
}

export async function readState(url: string, prefix: string, shards: number, job: { id: string; model: string }) {
  const r = new Redis(url);
  try {
    // The events service's keys (libs/events/src/events-keys.ts), as docs/architecture.md lists them.
    const ek = {
      rules: `${prefix}:events:rules`,
      counts: `${prefix}:events:counts`,
      events: (s: number) => `${prefix}:events:stream:${s}`,
      checkpoint: (s: number) => `${prefix}:events:ckpt:${s}`,
    };
    const bk = bulkKeys(prefix);
    const range = Array.from({ length: shards }, (_, s) => s);
    const snapshot: StateSnapshot = {
      apiRules: await r.hgetall(ek.rules),
      counts: await r.hgetall(ek.counts),
      events: await Promise.all(
        range.map(async (s) =>
          (await r.xrange(ek.events(s), '-', '+')).map(
            ([id, f]) => [id, JSON.parse(f[f.indexOf('event') + 1]) as SiteEvent] as [string, SiteEvent],
          ),
        ),
      ),
      checkpoints: await Promise.all(
        range.map(async (s) => {
          const h = await r.hgetall(ek.checkpoint(s));
          return { fields: Object.keys(h).sort(), pos: h['pos'] };
        }),
      ),
      revoked: await r.zrange(`${prefix}:revoked`, 0, -1, 'WITHSCORES'),
      job: await r.hgetall(bk.job(job.id)),
      queued: await r.lrange(`${bk.bull}:${jobQueueName(job.model)}:wait`, 0, -1),
      schemaVersion: await r.get(schemaVersionKey(prefix)),
    };
    return snapshot;
  } finally {
    r.disconnect();
  }
}

/** Every event of the snapshot, in stream order. */
export const allEvents = (s: StateSnapshot): SiteEvent[] => s.events.flat().map(([, e]) => e);

/** A camera's line totals as its `line.cross` events on the stream count them. */
export function tally(events: SiteEvent[], camera: string, rule: string): { in: number; out: number } {
  const crossings = events.filter((e) => e.camera === camera && e.rule === rule && e.kind === 'line.cross');
  return {
    in: crossings.filter((e) => e.direction === 'in').length,
    out: crossings.filter((e) => e.direction === 'out').length,
  };
}
