import type { FrameJob, FrameOutcomeMessage } from '@vision/protocol';
import type { EdgeTransport, TransportHealth } from './transport';

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

  /** Reachable only if every shard is, and "workers" is the fewest any shard has: a shard without workers refuses its cameras. */
  async health(): Promise<TransportHealth> {
    const all = await Promise.all(this.shards.map((s) => s.health()));
    const sum = (f: (h: TransportHealth) => number | undefined) => all.reduce<number | undefined>((acc, h) => (acc === undefined || f(h) === undefined ? undefined : acc + f(h)!), 0);
    return {
      reachable: all.every((h) => h.reachable),
      workers: Math.min(...all.map((h) => h.workers)),
      backlog: sum((h) => h.backlog),
      pending: sum((h) => h.pending),
    };
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
