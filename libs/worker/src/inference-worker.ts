import type { Logger } from 'pino';
import type { VisionMetrics } from '@vision/metrics';
import type { CompletedFrame, Delivery } from '@vision/transport';
import { VisionError } from '@vision/wire';
import { BackfillPolicy } from './backfill-policy';
import { Lane, type FrameSource } from './lane';
import type { ReadyFrame } from './ready-pool';
import type { Decoded, Detector } from './detector';
import { completedFrame, failed } from './frame-outcomes';
import type { InferenceWorkerOptions } from './inference-worker-options';

export type { FrameSource } from './lane';

/**
 * Engine-driven batching. Frames are decoded as they arrive; when an engine is free and a frame is
 * ready it runs at once; while engines run, ready frames accumulate; a freed engine takes
 * everything ready up to `maxBatch`. Decoders and batches are shared round-robin by tenant, and a
 * tenant decodes at most its share of the decoders at once, so one tenant's expensive images
 * cannot queue ahead of everyone else's. Frames past their deadline are answered `E_EXPIRED` and
 * never decoded or inferred. Real-time frames and backfill each have a lane; backfill only ever
 * gets what real-time frames leave.
 */
export class InferenceWorker<D extends Decoded> {
  private readonly live: Lane<D>;
  private readonly bulk: Lane<D> | undefined;
  private readonly laneOf = new WeakMap<Delivery, Lane<D>>();
  private readonly policy: BackfillPolicy;
  private readonly decodingBy = new Map<string, number>();
  private decoding = 0;
  private liveDecoding = 0;
  private running = 0;
  private stopping = false;
  private idleWaiter: (() => void) | undefined;
  private delayTimer: NodeJS.Timeout | undefined;
  private readonly finishing = new Set<Promise<void>>();
  private readonly label: { model: string };

  constructor(
    source: FrameSource,
    private readonly engine: Detector<D>,
    private readonly opts: InferenceWorkerOptions,
    private readonly log: Logger,
    private readonly metrics?: VisionMetrics,
  ) {
    this.label = { model: opts.model.id };
    const lane = { idleBlockMs: opts.idleBlockMs, retryMs: opts.idleBlockMs };
    // Enough real-time frames to fill every engine and the next batch; backfill: one batch running, one ready.
    this.live = new Lane(
      source,
      { ...lane, capacity: opts.maxBatch * (engine.concurrency + 1), countsRunning: false, label: 'live' },
      log,
    );
    this.bulk =
      opts.backfill &&
      new Lane(
        opts.backfill,
        { ...lane, capacity: 2 * opts.backfillMaxBatch, countsRunning: true, label: 'backfill' },
        log,
      );
    this.policy = new BackfillPolicy(opts.backfillYield);
  }

  start(): void {
    const stopping = () => this.stopping;
    this.live.start((d) => this.accept(d), stopping);
    this.bulk?.start((d) => this.enqueue(d, this.bulk!), stopping);
  }

  /** Stops taking frames, finishes (and acknowledges) everything it holds, then resolves. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.live.wake();
    this.bulk?.wake();
    await this.live.stopped();
    await this.bulk?.stopped();
    while (this.lanes().some((l) => l.waiting.size + l.ready.size > 0) || this.decoding > 0 || this.running > 0) {
      this.dispatch(true);
      await new Promise<void>((r) => (this.idleWaiter = r));
    }
    await Promise.all(this.finishing);
  }

  private lanes(): Lane<D>[] {
    return this.bulk ? [this.live, this.bulk] : [this.live];
  }

  private accept(d: Delivery): void {
    this.metrics?.workerQueueWait.observe(this.label, Math.max(0, d.pickedAt - d.job.receivedAt) / 1000);
    // The worker's own clock (pick-up time): edge clocks may differ.
    this.policy.arrived(`${d.job.tenant}/${d.job.streamId ?? d.job.connId}`, d.pickedAt);
    this.enqueue(d, this.live);
  }

  private enqueue(d: Delivery, lane: Lane<D>): void {
    this.laneOf.set(d, lane);
    lane.waiting.add({ delivery: d, decoded: undefined, readyAt: Date.now() });
    this.pumpDecoders();
  }

  /**
   * Starts decodes while decoders are free, round-robin by tenant. A tenant may hold its share of
   * the decoders, and never the last free one while it already decodes: that one is kept for a
   * tenant with nothing decoding, so a newcomer never waits behind someone else's slow images.
   */
  private pumpDecoders(): void {
    const now = Date.now();
    for (const lane of this.lanes()) {
      const expired = lane.waiting.remove((f) => f.delivery.job.deadline <= now);
      if (expired.length)
        this.finish(
          expired.map((f) => failed(f.delivery, new VisionError('E_EXPIRED'))),
          false,
        );
    }
    const max = this.opts.decodeConcurrency;
    const waiting = this.live.waiting;
    while (this.decoding < max && waiting.size > 0) {
      const tenants = new Set([...this.decodingBy.keys(), ...waiting.tenants()]).size;
      const share = Math.max(1, Math.floor((max - 1) / Math.max(1, tenants)));
      const lastFree = this.decoding === max - 1;
      const next = waiting.takeOne((t) => {
        const mine = this.decodingBy.get(t) ?? 0;
        return mine === 0 || (!lastFree && mine < share);
      });
      if (!next) break;
      this.decode(next.delivery, true);
    }
    // Backfill takes a decoder only when no real-time frame waits, and never the last free one.
    while (this.bulk && waiting.size === 0 && this.bulk.waiting.size > 0 && this.decoding < max - 1) {
      this.decode(this.bulk.waiting.takeOne(() => true)!.delivery, false);
    }
    this.live.wake();
    this.wakeIdle();
  }

  private decode(d: Delivery, live: boolean): void {
    const tenant = d.job.tenant ?? '';
    this.decoding++;
    if (live) this.liveDecoding++;
    this.decodingBy.set(tenant, (this.decodingBy.get(tenant) ?? 0) + 1);
    const done = () => {
      this.decoding--;
      if (live) this.liveDecoding--;
      const n = (this.decodingBy.get(tenant) ?? 1) - 1;
      if (n > 0) this.decodingBy.set(tenant, n);
      else this.decodingBy.delete(tenant);
    };
    this.engine.decode(d.job.image).then(
      (decoded) => {
        done();
        this.metrics?.workerPreprocess.observe(this.label, decoded.decodeMs / 1000);
        this.laneOf.get(d)!.ready.add({ delivery: d, decoded, readyAt: Date.now() });
        this.dispatch();
        this.pumpDecoders();
      },
      (err: unknown) => {
        done();
        this.finish([failed(d, err)], false);
        this.pumpDecoders();
      },
    );
  }

  /** Starts runs while an engine is free and frames are ready. `flush` ignores the batching delay. */
  private dispatch(flush = false): void {
    clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    const live = this.live.ready;
    const bulk = this.bulk?.ready;
    while (this.running < this.engine.concurrency && live.size + (bulk?.size ?? 0) > 0) {
      const now = Date.now();
      const expired = live.remove((f) => f.delivery.job.deadline <= now);
      if (expired.length)
        this.finish(
          expired.map((f) => failed(f.delivery, new VisionError('E_EXPIRED'))),
          false,
        );
      if (live.size + (bulk?.size ?? 0) === 0) break;
      const oldest = live.oldestReadyAt;
      if (
        oldest !== undefined &&
        !flush &&
        !this.stopping &&
        this.opts.maxWaitMs > 0 &&
        live.size < this.opts.maxBatch &&
        now - oldest < this.opts.maxWaitMs
      ) {
        this.delayTimer = setTimeout(() => this.dispatch(), oldest + this.opts.maxWaitMs - now);
        break;
      }
      if (live.size === 0 && !flush) {
        const wait = this.policy.wait(now, this.live.waiting.size > 0 || this.liveDecoding > 0);
        if (wait === 'live') break; // its decode ends in a dispatch
        if (wait > 0) {
          this.delayTimer = setTimeout(() => this.dispatch(), wait);
          break;
        }
      }
      // Real-time frames first; backfill fills a batch of its own, or tops a real-time one up.
      const batch = live.take(this.opts.maxBatch);
      const bulkRoom =
        batch.length === 0
          ? this.opts.backfillMaxBatch
          : this.opts.backfillTopUp
            ? Math.min(this.opts.backfillMaxBatch, this.opts.maxBatch - batch.length)
            : 0;
      const fromLive = batch.length;
      if (bulk && bulkRoom > 0) batch.push(...bulk.take(bulkRoom));
      if (batch.length === 0) break;
      this.running++;
      this.live.dispatched(fromLive);
      void this.run(batch, fromLive).finally(() => {
        this.running--;
        this.dispatch();
        this.wakeIdle();
      });
    }
    this.wakeIdle();
  }

  private async run(batch: ReadyFrame<D>[], liveFrames: number): Promise<void> {
    let done: CompletedFrame[];
    try {
      const r = await this.engine.infer(batch.map((f) => f.decoded));
      // Frames, not padded slots: the size the load gave the batch (BATCH_SIZES padding is the engine's).
      this.metrics?.workerBatchSize.observe(this.label, batch.length);
      this.metrics?.workerInference.observe(this.label, r.inferenceMs / 1000);
      this.metrics?.workerBusy.inc(this.label, r.inferenceMs / 1000);
      const bulkFrames = batch.length - liveFrames;
      if (bulkFrames)
        this.metrics?.workerBulkBusy.inc(this.label, ((r.inferenceMs / 1000) * bulkFrames) / batch.length);
      if (liveFrames === 0) this.policy.ranBulkOnly(r.inferenceMs);
      done = batch.map((f, i) =>
        completedFrame(f, r.frames[i], batch.length, r.inferenceMs, i < liveFrames, this.opts),
      );
    } catch (err) {
      this.log.error({ err, frames: batch.length }, 'inference failed');
      done = batch.map((f) =>
        failed(f.delivery, new VisionError('E_INFERENCE', `inference failed: ${(err as Error).message}`)),
      );
    }
    this.finish(done, true);
  }

  private finish(frames: CompletedFrame[], ran: boolean): void {
    for (const lane of this.lanes()) {
      const mine = frames.filter((f) => this.laneOf.get(f.delivery) === lane);
      if (mine.length === 0) continue;
      lane.finished(mine.length, ran);
      if (lane === this.live) {
        for (const f of mine)
          this.metrics?.workerFrames.inc({ ...this.label, outcome: f.outcome.ok ? 'result' : f.outcome.error.code });
        this.complete(lane.source, mine, 'could not publish outcomes');
      } else {
        this.metrics?.workerBulkImages.inc(this.label, mine.length);
        this.complete(lane.source, mine, 'could not record bulk results');
      }
    }
  }

  private complete(to: FrameSource, frames: CompletedFrame[], failure: string): void {
    const p = to.complete(frames).catch((err: unknown) => {
      // Unacknowledged frames stay pending in the queue; another worker (or this one) reclaims them.
      this.log.warn({ err, frames: frames.length }, failure);
    });
    this.finishing.add(p);
    void p.finally(() => this.finishing.delete(p));
  }

  private wakeIdle(): void {
    const w = this.idleWaiter;
    this.idleWaiter = undefined;
    w?.();
  }
}
