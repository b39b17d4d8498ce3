import { setTimeout as sleep } from 'node:timers/promises';
import type Redis from 'ioredis';
import type { FrameOutcomeMessage, ModelAnnouncement } from './frame-job';
import {
  connectTolerant,
  createRedis,
  requireRedis7,
  type RedisConnectionOptions,
  type RedisTarget,
} from '@vision/redis';
import { FrameWindowWriter, type FrameWindowOutcome } from '@vision/frame-window';
import { queueResults } from '@vision/results-stream';
import { queueHealth } from './redis-queue-stats';
import { redisKeys, type RedisKeys } from './redis-keys';
import type { CompletedFrame, Delivery, TransportHealth, WorkerTransport } from './transport';
import { compareIds, decodeEntry, type StreamEntry } from './stream-entry';
import { transportScripts } from './transport-scripts';
import { deadLetter, queueRelease, windowFrames, type DeadFrame } from './worker-completion';

export interface RedisWorkerTransportOptions {
  /** The frames Redis: a URL or a master behind sentinels. */
  target: RedisTarget;
  prefix: string;
  /** The model whose stream this transport reads. */
  model: string;
  /** How often the worker reports itself alive. */
  heartbeatMs: number;
  /** Pause after a failed read, doubled up to `maxBackoffMs`; a dead Redis never spins a core. */
  minBackoffMs: number;
  maxBackoffMs: number;
  /**
   * Frames pending on some consumer for longer than this are taken over (`XAUTOCLAIM`): the
   * consumer is presumed dead. Keep it above the longest batch.
   */
  claimMinIdleMs: number;
  /** A frame delivered more than this many times is dead-lettered and answered `E_DEAD_LETTER`. */
  maxDeliveries: number;
  onError?: (err: Error, where: string) => void;
  onState?: RedisConnectionOptions['onState'];
  /** Where camera frames' detections go (docs/events.md); undefined: nowhere. */
  results?: { shards: number; maxLen: number };
  /** What the frame window did with the camera frames its policy wants (docs/events.md#snapshots). */
  onFrameWindow?: (outcome: FrameWindowOutcome) => void;
  /** Told about frames taken over from another consumer and frames dead-lettered. */
  onReclaim?: (event: { claimed: number; deadLettered: number }) => void;
}

/** Waits shorter than this poll instead of using `BLOCK` (see `pollRead`). */
const SHORT_BLOCK_MS = 200;
/** The pause between polls of a short wait: far below a batch window, far above a busy loop. */
const POLL_INTERVAL_MS = 2;

export class RedisWorkerTransport implements WorkerTransport {
  readonly kind = 'redis' as const;
  private readonly keys: RedisKeys;
  private readonly stream: string;
  private readonly workersKey: string;
  readonly model: string;
  private readonly cmd: Redis;
  private readonly blocking: Redis;
  private consumer = '';
  private heartbeat: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private closed = false;
  private claimCursor = '0-0';
  private lastClaimAt = 0;
  /** Keeps the frames of cameras with rules for the events service's snapshots; with the results stream only. */
  private readonly frameWindow: FrameWindowWriter | undefined;

  constructor(private readonly opts: RedisWorkerTransportOptions) {
    this.keys = redisKeys(opts.prefix);
    this.model = opts.model;
    this.stream = this.keys.stream(opts.model);
    this.workersKey = this.keys.workers(opts.model);
    this.cmd = createRedis(opts.target, { name: 'worker-cmd', onState: opts.onState });
    transportScripts.release.define(this.cmd);
    this.frameWindow = opts.results ? new FrameWindowWriter(this.cmd, opts.prefix, opts.onFrameWindow) : undefined;
    // Blocking reads get their own connection: a command behind XREADGROUP BLOCK would wait for it.
    this.blocking = createRedis(opts.target, { name: 'worker-read', blocking: true, onState: opts.onState });
  }

  async start(workerId: string): Promise<void> {
    this.consumer = workerId;
    await Promise.all([connectTolerant(this.cmd), connectTolerant(this.blocking)]);
    await requireRedis7(this.cmd);
    await this.ensureGroup().catch((err: Error) => this.report(err, 'create group'));
    const beat = () =>
      this.cmd.zadd(this.workersKey, Date.now(), workerId).catch((err: Error) => this.report(err, 'heartbeat'));
    await beat();
    this.heartbeat = setInterval(beat, this.opts.heartbeatMs);
    this.heartbeat.unref();
    await this.frameWindow?.start();
  }

  async read(max: number, blockMs: number): Promise<Delivery[]> {
    if (this.closed) return [];
    const minIdle = this.opts.claimMinIdleMs;
    if (Date.now() - this.lastClaimAt >= Math.max(50, minIdle / 2)) {
      this.lastClaimAt = Date.now();
      const reclaimed = await this.reclaim(max, minIdle).catch((err: Error) => {
        this.report(err, 'reclaim');
        return [] as Delivery[];
      });
      if (reclaimed.length) return reclaimed;
    }
    const block = Math.floor(blockMs);
    if (block >= 1 && block < SHORT_BLOCK_MS) return this.pollRead(max, block);
    // BLOCK 0 would mean "forever": below 1 ms, read what is there without blocking.
    const args = block >= 1 ? ['BLOCK', block] : [];
    return this.readOnce(max, args);
  }

  /**
   * Redis times out blocked clients from its cron (10 Hz by default), so `BLOCK 10` can return
   * 100 ms late. Short waits (a batch window) poll without blocking instead.
   */
  private async pollRead(max: number, blockMs: number): Promise<Delivery[]> {
    const until = Date.now() + blockMs;
    for (;;) {
      const got = await this.readOnce(max, []);
      const left = until - Date.now();
      if (got.length || left <= 0 || this.closed) return got;
      await sleep(Math.min(POLL_INTERVAL_MS, left));
    }
  }

  private async readOnce(max: number, args: (string | number)[]): Promise<Delivery[]> {
    let reply: unknown;
    try {
      reply = await this.blocking.callBuffer(
        'XREADGROUP',
        'GROUP',
        this.keys.group,
        this.consumer,
        'COUNT',
        max,
        ...args,
        'STREAMS',
        this.stream,
        '>',
      );
      this.backoffMs = 0;
    } catch (err) {
      const e = err as Error;
      if (/NOGROUP/.test(e.message)) {
        // Redis restarted without persistence: the stream and group are gone. Recreate from `$`:
        // frames from before the restart must not be replayed.
        await this.ensureGroup().catch((err2: Error) => this.report(err2, 'recreate group'));
        return [];
      }
      this.report(e, 'read');
      await this.backoff();
      return [];
    }
    return this.parse(reply);
  }

  health(): Promise<TransportHealth> {
    return queueHealth(this.cmd, this.keys, [this.model]);
  }

  async announce(a: ModelAnnouncement): Promise<void> {
    await this.cmd.hset(this.keys.models, a.id, JSON.stringify(a));
  }

  async complete(frames: CompletedFrame[]): Promise<void> {
    if (frames.length === 0) return;
    const byEdge = new Map<string, FrameOutcomeMessage[]>();
    for (const { delivery, outcome } of frames) {
      const list = byEdge.get(delivery.job.edgeId) ?? [];
      list.push(outcome);
      byEdge.set(delivery.job.edgeId, list);
    }
    // Publish before acknowledging: a crash in between re-runs the frame rather than losing it.
    // An answered frame's bytes then leave Redis at once (XDEL), not when MAXLEN trims them.
    const pipe = this.cmd.multi();
    for (const [edgeId, outcomes] of byEdge) pipe.publish(this.keys.results(edgeId), JSON.stringify(outcomes));
    const ids = frames.map((f) => f.delivery.id);
    pipe.xack(this.stream, this.keys.group, ...ids);
    pipe.xdel(this.stream, ...ids);
    queueRelease(
      pipe,
      this.keys,
      frames.map((f) => f.delivery.job),
    );
    // In the same transaction as the acknowledgement: a frame re-run after a crash appends again,
    // and the events service drops the repeat by its frame id and capture time.
    const records = this.opts.results ? frames.flatMap((f) => (f.record ? [f.record] : [])) : [];
    if (records.length)
      queueResults(pipe, this.opts.prefix, this.opts.results!.shards, this.opts.results!.maxLen, records);
    // Last in the transaction, so their replies are the last ones.
    const windowed = this.frameWindow?.queue(pipe, windowFrames(frames)) ?? 0;
    const replies = await pipe.exec();
    this.frameWindow?.observe(replies, windowed);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.frameWindow?.stop();
    await this.cmd.zrem(this.workersKey, this.consumer).catch(() => undefined);
    this.blocking.disconnect();
    this.cmd.disconnect();
  }

  /**
   * Takes over frames another consumer has held longer than `minIdle` (it died mid-batch). Each
   * claim counts as a delivery; past `maxDeliveries` the frame is dead-lettered and its edge told.
   */
  private async reclaim(max: number, minIdle: number): Promise<Delivery[]> {
    const reply = (await this.cmd.callBuffer(
      'XAUTOCLAIM',
      this.stream,
      this.keys.group,
      this.consumer,
      minIdle,
      this.claimCursor,
      'COUNT',
      max,
    )) as [Buffer, StreamEntry[], Buffer[]?];
    this.claimCursor = reply[0].toString();
    const entries = reply[1] ?? [];
    if (entries.length === 0) return [];
    const ids = entries.map(([id]) => id.toString());
    const counts = await this.deliveryCounts(ids);
    const now = Date.now();
    const live: Delivery[] = [];
    const dead: DeadFrame[] = [];
    for (const [idBuf, fields] of entries) {
      const id = idBuf.toString();
      const job = fields ? decodeEntry(fields) : undefined;
      const deliveryCount = counts.get(id) ?? 1;
      if (!job || deliveryCount > this.opts.maxDeliveries) dead.push({ id, job });
      else live.push({ id, job, deliveryCount, pickedAt: now });
    }
    if (dead.length) await deadLetter(this.cmd, this.keys, this.stream, dead);
    this.opts.onReclaim?.({ claimed: live.length, deadLettered: dead.length });
    return live;
  }

  private async deliveryCounts(ids: string[]): Promise<Map<string, number>> {
    const sorted = [...ids].sort(compareIds);
    const rows = (await this.cmd.xpending(
      this.stream,
      this.keys.group,
      sorted[0],
      sorted[sorted.length - 1],
      ids.length * 4,
      this.consumer,
    )) as [string, string, number, number][];
    return new Map(rows.map(([id, , , count]) => [id, Number(count)]));
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.cmd.xgroup('CREATE', this.stream, this.keys.group, '$', 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  private parse(reply: unknown): Delivery[] {
    if (!Array.isArray(reply)) return [];
    const now = Date.now();
    const out: Delivery[] = [];
    const orphans: string[] = [];
    for (const [, entries] of reply as [Buffer, StreamEntry[]][]) {
      for (const [idBuf, fields] of entries) {
        const id = idBuf.toString();
        const job = fields ? decodeEntry(fields) : undefined;
        if (!job) {
          orphans.push(id); // trimmed or malformed: nobody can answer it, so do not keep it pending
          continue;
        }
        out.push({ id, job, deliveryCount: 1, pickedAt: now });
      }
    }
    if (orphans.length) {
      this.cmd
        .multi()
        .xack(this.stream, this.keys.group, ...orphans)
        .xdel(this.stream, ...orphans)
        .exec()
        .catch(() => undefined);
    }
    return out;
  }

  private async backoff(): Promise<void> {
    const min = this.opts.minBackoffMs;
    this.backoffMs = Math.min(this.opts.maxBackoffMs, this.backoffMs ? this.backoffMs * 2 : min);
    await sleep(this.backoffMs);
  }

  private report(err: Error, where: string): void {
    this.opts.onError?.(err, where);
  }
}
