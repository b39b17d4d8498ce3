import type { Logger } from 'pino';
import { toWireError, VisionError, type Detection } from '@vision/wire';
import { type FrameOutcomeMessage } from '@vision/transport';
import type { VisionMetrics } from '@vision/metrics';
import type { CompletedFrame, Delivery, WorkerTransport } from '@vision/transport';
import { ArrivalForecast } from './arrival-forecast';
import { ReadyPool, type ReadyFrame } from './ready-pool';

/** Backfill starts only if it should end this long before the next real-time frame is due. */
const YIELD_MARGIN_MS = 5;

/** What the worker needs of a model: decode one frame, run a batch of decoded frames. */
export interface Engine<D extends { decodeMs: number } = { decodeMs: number }> {
  /** Batches that may run at once. */
  readonly concurrency: number;
  decode(image: Uint8Array): Promise<D>;
  infer(frames: readonly D[]): Promise<{ detections: Detection[][]; inferenceMs: number }>;
}

/** Where frames come from, and where their outcomes go: the real-time stream, or the bulk-job source beside it. */
export type FrameSource = Pick<WorkerTransport, 'read' | 'complete'>;

export interface InferenceWorkerOptions {
  /** The model id and version every result reports (and the `model` label of the worker metrics). */
  model: { id: string; version: string };
  /** Most frames per `session.run`. */
  maxBatch: number;
  /**
   * Triton-style batching delay: an idle engine waits up to this long after the first ready frame
   * for a fuller batch. 0 (default) runs whatever is ready as soon as an engine is free.
   */
  maxWaitMs: number;
  /** Frames decoding at once (sharp runs on libuv's pool, 4 threads by default). @defaultValue 4 */
  decodeConcurrency?: number;
  /** How long an idle read blocks; bounds how long a stop waits. @defaultValue 1000 */
  idleBlockMs?: number;
  /**
   * Low-priority frames (bulk jobs) that fill what real-time frames leave: at most `maxBatch` of
   * them in hand, decoded only on a decoder real-time frames do not need, and put in a batch only
   * after every ready real-time frame. A real-time frame then waits for at most the one batch
   * already running.
   */
  backfill?: FrameSource;
  /**
   * Most backfill frames in one batch. Every real-time frame that arrives while a backfill batch
   * runs waits for it, so on a CPU (batch time grows with its size) keep it small. @defaultValue maxBatch
   */
  backfillMaxBatch?: number;
  /**
   * Whether backfill frames may join a batch that carries real-time frames (free on a GPU, where a
   * fuller batch costs little more; on a CPU it makes those real-time frames wait for them). @defaultValue true
   */
  backfillTopUp?: boolean;
  /**
   * Start a backfill-only batch only when it should finish before the next real-time frame is due
   * (forecast from each stream's arrival rate), and never while a real-time frame is decoding.
   * Trades idle time for real-time latency where runs are long (a CPU). @defaultValue true
   */
  backfillYield?: boolean;
}

/**
 * Engine-driven batching. Frames are decoded as they arrive (the worker holds at most
 * `maxBatch × (concurrency + 1)` frames, waiting to decode, decoding or ready; the backlog beyond
 * stays in the queue). When an engine is free and a frame is ready it runs at once; while engines
 * run, ready frames accumulate; a freed engine takes everything ready up to `maxBatch`. Decoders
 * and batches are shared round-robin by tenant, and a tenant decodes at most its share of the
 * decoders at once, so one tenant's expensive images cannot queue ahead of everyone else's. Frames
 * past their deadline are answered `E_EXPIRED` and never decoded or inferred.
 */
export class InferenceWorker<D extends { decodeMs: number }> {
  private readonly waiting = new ReadyPool<undefined>();
  private readonly ready = new ReadyPool<D>();
  private readonly bulkWaiting = new ReadyPool<undefined>();
  private readonly bulkReady = new ReadyPool<D>();
  /** Backfill frames waiting, decoding, ready or running. */
  private bulkInHand = 0;
  private readonly bulk = new WeakSet<Delivery>();
  private backfillIntake: Promise<void> | undefined;
  private bulkRoomWaiter: (() => void) | undefined;
  private readonly forecast = new ArrivalForecast();
  /** Real-time frames decoding (backfill waits for them to be batched). */
  private liveDecoding = 0;
  /** Recent run time of a backfill-only batch, ms (EWMA). */
  private bulkRunMs: number | undefined;
  private readonly decodingBy = new Map<string, number>();
  private readonly capacity: number;
  private readonly decoders: number;
  private decoding = 0;
  private running = 0;
  private stopping = false;
  private intake: Promise<void> | undefined;
  private roomWaiter: (() => void) | undefined;
  private idleWaiter: (() => void) | undefined;
  private delayTimer: NodeJS.Timeout | undefined;
  private readonly finishing = new Set<Promise<void>>();
  private readonly label: { model: string };

  constructor(
    private readonly source: FrameSource,
    private readonly engine: Engine<D>,
    private readonly opts: InferenceWorkerOptions,
    private readonly log: Logger,
    private readonly metrics?: VisionMetrics,
  ) {
    this.label = { model: opts.model.id };
    this.capacity = opts.maxBatch * (engine.concurrency + 1);
    this.decoders = opts.decodeConcurrency ?? 4;
  }

  start(): void {
    this.intake ??= this.readLoop();
    if (this.opts.backfill) this.backfillIntake ??= this.backfillLoop(this.opts.backfill);
  }

  /** Stops taking frames, finishes (and acknowledges) everything it holds, then resolves. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeRoom();
    this.wakeBulkRoom();
    await this.intake;
    await this.backfillIntake;
    while (this.waiting.size + this.bulkWaiting.size > 0 || this.decoding > 0 || this.ready.size + this.bulkReady.size > 0 || this.running > 0) {
      this.dispatch(true);
      await new Promise<void>((r) => (this.idleWaiter = r));
    }
    await Promise.all(this.finishing);
  }

  private async readLoop(): Promise<void> {
    while (!this.stopping) {
      const room = this.capacity - this.waiting.size - this.decoding - this.ready.size;
      if (room <= 0) {
        await new Promise<void>((r) => (this.roomWaiter = r));
        continue;
      }
      let got: Delivery[];
      try {
        got = await this.source.read(room, this.opts.idleBlockMs ?? 1000);
      } catch (err) {
        this.log.error({ err }, 'reading frames failed');
        continue;
      }
      for (const d of got) this.accept(d);
    }
  }

  private async backfillLoop(backfill: FrameSource): Promise<void> {
    // Enough for one backfill batch running and the next one ready.
    const cap = 2 * (this.opts.backfillMaxBatch ?? this.opts.maxBatch);
    while (!this.stopping) {
      const room = cap - this.bulkInHand;
      if (room <= 0) {
        await new Promise<void>((r) => (this.bulkRoomWaiter = r));
        continue;
      }
      let got: Delivery[];
      try {
        got = await backfill.read(room, this.opts.idleBlockMs ?? 1000);
      } catch (err) {
        this.log.error({ err }, 'reading backfill frames failed');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      for (const d of got) {
        this.bulk.add(d);
        this.bulkInHand++;
        this.bulkWaiting.add({ delivery: d, decoded: undefined, readyAt: Date.now() });
      }
      if (got.length) this.pumpDecoders();
    }
  }

  private accept(d: Delivery): void {
    this.metrics?.workerQueueWait.observe(this.label, Math.max(0, d.pickedAt - d.job.receivedAt) / 1000);
    // The worker's own clock (pick-up time): edge clocks may differ.
    this.forecast.arrived(`${d.job.tenant}/${d.job.streamId ?? d.job.connId}`, d.pickedAt);
    this.waiting.add({ delivery: d, decoded: undefined, readyAt: Date.now() });
    this.pumpDecoders();
  }

  /**
   * Starts decodes while decoders are free, round-robin by tenant. A tenant may hold its share of
   * the decoders, and never the last free one while it already decodes: that one is kept for a
   * tenant with nothing decoding, so a newcomer never waits behind someone else's slow images.
   */
  private pumpDecoders(): void {
    const now = Date.now();
    const expired = this.waiting.remove((f) => f.delivery.job.deadline <= now);
    if (expired.length) this.finish(expired.map((f) => failed(f.delivery, new VisionError('E_EXPIRED'))));
    while (this.decoding < this.decoders && this.waiting.size > 0) {
      const tenants = new Set([...this.decodingBy.keys(), ...this.waiting.tenants()]).size;
      const share = Math.max(1, Math.floor((this.decoders - 1) / Math.max(1, tenants)));
      const lastFree = this.decoding === this.decoders - 1;
      const next = this.waiting.takeOne((t) => {
        const mine = this.decodingBy.get(t) ?? 0;
        return mine === 0 || (!lastFree && mine < share);
      });
      if (!next) break;
      this.decode(next.delivery);
    }
    // Backfill takes a decoder only when no real-time frame waits, and never the last free one.
    while (this.waiting.size === 0 && this.bulkWaiting.size > 0 && this.decoding < this.decoders - 1) {
      const next = this.bulkWaiting.takeOne(() => true);
      if (!next) break;
      this.decode(next.delivery);
    }
    this.wakeRoom();
    this.wakeIdle();
  }

  private decode(d: Delivery): void {
    const tenant = d.job.tenant ?? '';
    const live = !this.bulk.has(d);
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
        (this.bulk.has(d) ? this.bulkReady : this.ready).add({ delivery: d, decoded, readyAt: Date.now() });
        this.dispatch();
        this.pumpDecoders();
      },
      (err: unknown) => {
        done();
        this.finish([failed(d, err)]);
        this.pumpDecoders();
      },
    );
  }

  /** Starts runs while an engine is free and frames are ready. `flush` ignores the batching delay. */
  private dispatch(flush = false): void {
    clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    while (this.running < this.engine.concurrency && this.ready.size + this.bulkReady.size > 0) {
      const now = Date.now();
      const expired = this.ready.remove((f) => f.delivery.job.deadline <= now);
      if (expired.length) this.finish(expired.map((f) => failed(f.delivery, new VisionError('E_EXPIRED'))));
      if (this.ready.size + this.bulkReady.size === 0) break;
      const oldest = this.ready.oldestReadyAt;
      if (oldest !== undefined && !flush && !this.stopping && this.opts.maxWaitMs > 0 && this.ready.size < this.opts.maxBatch && now - oldest < this.opts.maxWaitMs) {
        this.delayTimer = setTimeout(() => this.dispatch(), oldest + this.opts.maxWaitMs - now);
        break;
      }
      if (this.ready.size === 0 && !flush && this.opts.backfillYield !== false) {
        const wait = this.backfillWait(now);
        if (wait === 'live') break; // its decode ends in a dispatch
        if (wait > 0) {
          this.delayTimer = setTimeout(() => this.dispatch(), wait);
          break;
        }
      }
      // Real-time frames first; backfill fills a batch of its own, or tops a real-time one up.
      const batch = this.ready.take(this.opts.maxBatch);
      const bulkMax = this.opts.backfillMaxBatch ?? this.opts.maxBatch;
      const bulkRoom = batch.length === 0 ? bulkMax : this.opts.backfillTopUp === false ? 0 : Math.min(bulkMax, this.opts.maxBatch - batch.length);
      if (bulkRoom > 0) batch.push(...this.bulkReady.take(bulkRoom));
      if (batch.length === 0) break;
      this.running++;
      this.wakeRoom();
      void this.run(batch).finally(() => {
        this.running--;
        this.dispatch();
        this.wakeIdle();
      });
    }
    this.wakeIdle();
  }

  /**
   * Whether a backfill-only batch should wait: for a real-time frame being decoded ('live'), or
   * (ms) past the next forecast arrival when the batch would still be running then. 0: start now.
   */
  private backfillWait(now: number): number | 'live' {
    if (this.waiting.size > 0 || this.liveDecoding > 0) return 'live';
    const due = this.forecast.next(now);
    if (due === undefined || this.bulkRunMs === undefined) return 0;
    // A run that would overlap the next frame's window waits until the window has closed.
    return due.from - now < this.bulkRunMs + YIELD_MARGIN_MS ? Math.max(1, due.to - now) : 0;
  }

  private async run(batch: ReadyFrame<D>[]): Promise<void> {
    let done: CompletedFrame[];
    try {
      const r = await this.engine.infer(batch.map((f) => f.decoded));
      // Frames, not padded slots: the size the load gave the batch (BATCH_SIZES padding is the engine's).
      this.metrics?.workerBatchSize.observe(this.label, batch.length);
      this.metrics?.workerInference.observe(this.label, r.inferenceMs / 1000);
      this.metrics?.workerBusy.inc(this.label, r.inferenceMs / 1000);
      const bulk = batch.filter((f) => this.bulk.has(f.delivery)).length;
      if (bulk) this.metrics?.workerBulkBusy.inc(this.label, ((r.inferenceMs / 1000) * bulk) / batch.length);
      if (bulk === batch.length) this.bulkRunMs = this.bulkRunMs === undefined ? r.inferenceMs : 0.8 * this.bulkRunMs + 0.2 * r.inferenceMs;
      done = batch.map((f, i): CompletedFrame => {
        const d = f.delivery;
        const outcome: FrameOutcomeMessage = {
          key: d.job.key,
          connId: d.job.connId,
          ok: true,
          detections: r.detections[i],
          model: this.opts.model.id,
          modelVersion: this.opts.model.version,
          batchSize: batch.length,
          pickedAt: d.pickedAt,
          preprocessMs: f.decoded.decodeMs,
          inferenceMs: r.inferenceMs,
        };
        return { delivery: d, outcome };
      });
    } catch (err) {
      this.log.error({ err, frames: batch.length }, 'inference failed');
      done = batch.map((f) => failed(f.delivery, new VisionError('E_INFERENCE', `inference failed: ${(err as Error).message}`)));
    }
    this.finish(done);
  }

  private finish(frames: CompletedFrame[]): void {
    const bulk = frames.filter((f) => this.bulk.has(f.delivery));
    const live = bulk.length ? frames.filter((f) => !this.bulk.has(f.delivery)) : frames;
    for (const f of live) this.metrics?.workerFrames.inc({ ...this.label, outcome: f.outcome.ok ? 'result' : f.outcome.error.code });
    if (live.length) this.complete(this.source, live, 'could not publish outcomes');
    if (bulk.length) {
      this.metrics?.workerBulkImages.inc(this.label, bulk.length);
      this.bulkInHand -= bulk.length;
      this.complete(this.opts.backfill!, bulk, 'could not record bulk results');
      this.wakeBulkRoom();
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

  private wakeBulkRoom(): void {
    const w = this.bulkRoomWaiter;
    this.bulkRoomWaiter = undefined;
    w?.();
  }

  private wakeRoom(): void {
    const w = this.roomWaiter;
    this.roomWaiter = undefined;
    w?.();
  }

  private wakeIdle(): void {
    const w = this.idleWaiter;
    this.idleWaiter = undefined;
    w?.();
  }
}

function failed(d: Delivery, err: unknown): CompletedFrame {
  return { delivery: d, outcome: { key: d.job.key, connId: d.job.connId, ok: false, error: toWireError(err) } };
}
