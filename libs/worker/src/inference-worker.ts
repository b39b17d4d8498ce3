import type { Logger } from 'pino';
import { toWireError, VisionError, type Detection, type FrameOutcomeMessage } from '@vision/protocol';
import type { VisionMetrics } from '@vision/metrics';
import type { CompletedFrame, Delivery, WorkerTransport } from '@vision/transport';
import { ReadyPool, type ReadyFrame } from './ready-pool';

/** What the worker needs of a model: decode one frame, run a batch of decoded frames. */
export interface Engine<D extends { decodeMs: number } = { decodeMs: number }> {
  /** Batches that may run at once. */
  readonly concurrency: number;
  decode(image: Uint8Array): Promise<D>;
  infer(frames: readonly D[]): Promise<{ detections: Detection[][]; runBatchSize: number; inferenceMs: number }>;
}

/** Where frames come from (the real-time stream today; a bulk-job source can sit beside it). */
export type FrameSource = Pick<WorkerTransport, 'read'>;

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
    private readonly source: FrameSource & Pick<WorkerTransport, 'complete'>,
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
  }

  /** Stops taking frames, finishes (and acknowledges) everything it holds, then resolves. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeRoom();
    await this.intake;
    while (this.waiting.size > 0 || this.decoding > 0 || this.ready.size > 0 || this.running > 0) {
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

  private accept(d: Delivery): void {
    this.metrics?.workerQueueWait.observe(this.label, Math.max(0, d.pickedAt - d.job.receivedAt) / 1000);
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
    this.wakeRoom();
    this.wakeIdle();
  }

  private decode(d: Delivery): void {
    const tenant = d.job.tenant ?? '';
    this.decoding++;
    this.decodingBy.set(tenant, (this.decodingBy.get(tenant) ?? 0) + 1);
    const done = () => {
      this.decoding--;
      const n = (this.decodingBy.get(tenant) ?? 1) - 1;
      if (n > 0) this.decodingBy.set(tenant, n);
      else this.decodingBy.delete(tenant);
    };
    this.engine.decode(d.job.image).then(
      (decoded) => {
        done();
        this.metrics?.workerPreprocess.observe(this.label, decoded.decodeMs / 1000);
        this.ready.add({ delivery: d, decoded, readyAt: Date.now() });
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
    while (this.running < this.engine.concurrency && this.ready.size > 0) {
      const now = Date.now();
      const expired = this.ready.remove((f) => f.delivery.job.deadline <= now);
      if (expired.length) this.finish(expired.map((f) => failed(f.delivery, new VisionError('E_EXPIRED'))));
      if (this.ready.size === 0) break;
      const oldest = this.ready.oldestReadyAt!;
      if (!flush && !this.stopping && this.opts.maxWaitMs > 0 && this.ready.size < this.opts.maxBatch && now - oldest < this.opts.maxWaitMs) {
        this.delayTimer = setTimeout(() => this.dispatch(), oldest + this.opts.maxWaitMs - now);
        break;
      }
      const batch = this.ready.take(this.opts.maxBatch);
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

  private async run(batch: ReadyFrame<D>[]): Promise<void> {
    let done: CompletedFrame[];
    try {
      const r = await this.engine.infer(batch.map((f) => f.decoded));
      this.metrics?.workerBatchSize.observe(this.label, r.runBatchSize);
      this.metrics?.workerInference.observe(this.label, r.inferenceMs / 1000);
      this.metrics?.workerBusy.inc(this.label, r.inferenceMs / 1000);
      done = batch.map((f, i): CompletedFrame => {
        const d = f.delivery;
        const outcome: FrameOutcomeMessage = {
          key: d.job.key,
          connId: d.job.connId,
          ok: true,
          detections: r.detections[i],
          model: this.opts.model.id,
          modelVersion: this.opts.model.version,
          batchSize: r.runBatchSize,
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
    for (const f of frames) this.metrics?.workerFrames.inc({ ...this.label, outcome: f.outcome.ok ? 'result' : f.outcome.error.code });
    const p = this.source.complete(frames).catch((err: unknown) => {
      // Unacknowledged frames stay pending in the queue; another worker (or this one) reclaims them.
      this.log.warn({ err, frames: frames.length }, 'could not publish outcomes');
    });
    this.finishing.add(p);
    void p.finally(() => this.finishing.delete(p));
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
