import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { resultsShard } from '@vision/results-stream';
import type { EventsKeys } from './events-keys';
import { eventsScripts } from './events-scripts';

/** What the owner of a shard does when it gains, gives back or loses one. */
export interface ShardHandlers {
  /** A shard was taken: `checkpoint` is its hash as the last owner left it. */
  acquired(shard: number, token: string, checkpoint: Record<string, string>): Promise<void> | void;
  /** About to give a shard back (rebalancing, shutdown): last chance to commit. */
  releasing(shard: number): Promise<void>;
  /** The lease is gone (expired, or taken over): drop the shard's state without writing. */
  lost(shard: number): void;
}

export interface LeaseOptions {
  shards: number;
  leaseMs: number;
  instanceId: string;
}

/**
 * One lease per results shard (a key with a TTL, renewed every third of it): the owner of a shard
 * owns every camera hashed to it. Instances announce themselves in a sorted set and each aims for
 * its share (shards / live instances, rounded up): a new instance gets shards as others give back
 * their extra ones, and a dead one's shards are taken once its leases expire.
 */
export class ShardLeases {
  /** Shard -> lease token (the fencing token every commit checks). */
  readonly owned = new Map<number, string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastRenewed = new Map<number, number>();
  private stopped = false;
  /** Runs a lease round now (and schedules the next), once `start` has run. */
  private nextRound: (() => void) | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: EventsKeys,
    private readonly options: LeaseOptions,
    private readonly handlers: ShardHandlers,
    private readonly log: Logger,
  ) {}

  start(): void {
    const tick = (this.nextRound = () => {
      if (this.stopped) return;
      this.running = this.tick()
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'lease round failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, Math.max(50, Math.floor(this.options.leaseMs / 3)));
        });
    });
    tick();
  }

  /** Commits and gives every shard back, so others take over at once instead of after the TTL. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    for (const shard of [...this.owned.keys()]) await this.release(shard);
    await this.redis.zrem(this.keys.instances, this.options.instanceId).catch(() => undefined);
  }

  async tick(): Promise<void> {
    const now = Date.now();
    await this.redis
      .multi()
      .zadd(this.keys.instances, now + this.options.leaseMs, this.options.instanceId)
      .zremrangebyscore(this.keys.instances, '-inf', now)
      .exec();
    for (const [shard, token] of [...this.owned]) {
      try {
        const ok = await eventsScripts.renew.run(
          this.redis,
          { lease: this.keys.lease(shard) },
          { token, ttlMs: this.options.leaseMs },
        );
        if (ok === 1) this.lastRenewed.set(shard, Date.now());
        else this.lose(shard, 'taken over or expired');
      } catch (err) {
        // Redis unreachable: after a full TTL without renewal the lease is gone there too.
        if (Date.now() - (this.lastRenewed.get(shard) ?? 0) > this.options.leaseMs)
          this.lose(shard, (err as Error).message);
      }
    }
    const live = Math.max(1, await this.redis.zcount(this.keys.instances, now, '+inf'));
    const target = Math.ceil(this.options.shards / live);
    for (const shard of [...this.owned.keys()].slice(target)) await this.release(shard);
    if (this.owned.size >= target) return;
    // Start at a place of our own, so instances starting together try different shards first.
    const start = resultsShard(this.options.instanceId, this.options.shards);
    for (let i = 0; i < this.options.shards && this.owned.size < target && !this.stopped; i++) {
      const shard = (start + i) % this.options.shards;
      if (this.owned.has(shard)) continue;
      const token = `${this.options.instanceId}:${randomBytes(6).toString('hex')}`;
      if (
        (await eventsScripts.acquire.run(
          this.redis,
          { lease: this.keys.lease(shard) },
          { token, ttlMs: this.options.leaseMs },
        )) !== 1
      )
        continue;
      const checkpoint = await this.redis.hgetall(this.keys.checkpoint(shard));
      this.owned.set(shard, token);
      this.lastRenewed.set(shard, Date.now());
      try {
        await this.handlers.acquired(shard, token, checkpoint);
      } catch (err) {
        this.log.error({ shard, err: (err as Error).message }, 'shard not resumed; giving it back');
        await this.release(shard);
        continue;
      }
      this.log.info(
        { shard, instance: this.options.instanceId, resumeFrom: checkpoint['pos'] ?? null },
        'shard acquired',
      );
    }
  }

  /**
   * Redis came back after an outage, perhaps as a promoted replica that never got the last commits
   * (replication is asynchronous): every shard drops its state unwritten and gives its lease back, so
   * it resumes from the checkpoint Redis holds now. Commits are atomic and event ids deterministic,
   * so the replay appends exactly the events that Redis lacks.
   */
  async resumeFromCheckpoints(why: string): Promise<void> {
    await this.running;
    for (const [shard, token] of [...this.owned]) {
      this.lose(shard, why);
      await eventsScripts.release.run(this.redis, { lease: this.keys.lease(shard) }, { token }).catch(() => undefined);
    }
    // Taken back at once, not a third of a lease later.
    if (this.stopped) return;
    await this.running;
    clearTimeout(this.timer);
    this.nextRound?.();
  }

  /** A commit was refused: the lease is gone already. */
  forfeit(shard: number): void {
    this.lose(shard, 'commit fenced');
  }

  private async release(shard: number): Promise<void> {
    const token = this.owned.get(shard);
    if (token === undefined) return;
    try {
      await this.handlers.releasing(shard);
    } catch (err) {
      this.log.warn(
        { shard, err: (err as Error).message },
        'final commit failed; the next owner resumes from the last checkpoint',
      );
    }
    this.owned.delete(shard);
    this.handlers.lost(shard);
    await eventsScripts.release.run(this.redis, { lease: this.keys.lease(shard) }, { token }).catch(() => undefined);
    this.log.info({ shard }, 'shard released');
  }

  private lose(shard: number, why: string): void {
    if (!this.owned.delete(shard)) return;
    this.handlers.lost(shard);
    this.log.warn({ shard, why }, 'shard lease lost');
  }
}
