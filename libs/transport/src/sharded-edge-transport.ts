import type { FrameJob, FrameOutcomeMessage } from './frame-job';
import { combineQueues, type EdgeTransport, type ModelStatus, type TransportHealth } from './transport';

/**
 * The shard a camera's frames go to: FNV-1a of tenant and stream id (the connection when the client
 * names no stream), so one camera's frames stay in order on one Redis and its workers.
 */
export function shardOf(job: Pick<FrameJob, 'tenant' | 'streamId' | 'connId'>, shards: number): number {
  const key = `${job.tenant}/${job.streamId ?? job.connId}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % shards;
}

/**
 * An edge over several Redis instances (REDIS_URL=a,b,...): every JPEG crosses Redis twice, so one
 * instance's network and CPU cap the site. Each shard is a complete queue with its own workers;
 * the edge routes each camera to one shard and hears outcomes from all of them. Admission limits
 * (backlog, tenant share, byte budget) hold per shard.
 */
export class ShardedEdgeTransport implements EdgeTransport {
  readonly kind = 'redis' as const;

  constructor(private readonly shards: EdgeTransport[]) {
    if (shards.length < 2) throw new Error('a sharded transport needs at least two shards');
  }

  async start(edgeId: string, onOutcome: (m: FrameOutcomeMessage) => void): Promise<void> {
    await Promise.all(this.shards.map((s) => s.start(edgeId, onOutcome)));
  }

  submit(job: FrameJob): Promise<void> {
    return this.shards[shardOf(job, this.shards.length)].submit(job);
  }

  /**
   * Reachable only if every shard is, and "workers" is the fewest any shard has: a shard without workers
   * refuses its cameras.
   */
  async health(models: readonly string[]): Promise<TransportHealth> {
    const all = await Promise.all(this.shards.map((s) => s.health(models)));
    return { ...combineQueues(all), reachable: all.every((h) => h.reachable) };
  }

  /** Per model: the fewest workers any shard has, backlog summed, the first shard's announcement. */
  async models(ids: readonly string[]): Promise<Record<string, ModelStatus>> {
    const all = await Promise.all(this.shards.map((s) => s.models(ids)));
    return Object.fromEntries(
      ids.map((id) => {
        const per = all.map((r) => r[id]);
        const health = combineQueues(per);
        return [
          id,
          {
            workers: health.workers,
            backlog: health.backlog,
            pending: health.pending,
            announced: per.find((p) => p.announced)?.announced,
          },
        ];
      }),
    );
  }

  onConnectionLost(listener: () => void): void {
    // The ledger does not know which shard a frame went to; losing any shard fails the open frames
    // (clients resend), which is rare and never leaves one hanging.
    for (const s of this.shards) s.onConnectionLost?.(listener);
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.close()));
  }
}
