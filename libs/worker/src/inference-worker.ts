import { basename } from 'node:path';
import type { Logger } from 'pino';
import { toWireError, VisionError, type FrameOutcomeMessage } from '@vision/protocol';
import type { VisionMetrics } from '@vision/metrics';
import type { CompletedFrame, Delivery, WorkerTransport } from '@vision/transport';
import type { PreparedBatch, YoloModel } from '@vision/yolo';
import { DynamicBatcher, type DynamicBatcherOptions } from './dynamic-batcher';

export type InferenceWorkerOptions = DynamicBatcherOptions;

type Model = Pick<YoloModel, 'prepare' | 'infer' | 'description'>;

/**
 * The worker loop as a two-stage pipeline: while batch k is in `session.run`, batch k+1 is being
 * collected and decoded. At most two batches are held (one inferring, one prepared), so memory is
 * bounded however far behind the worker falls; the backlog stays in the queue, bounded there.
 */
export class InferenceWorker {
  private readonly batcher: DynamicBatcher;
  private readonly modelName: string;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private inferring: Promise<void> = Promise.resolve();

  constructor(
    private readonly transport: WorkerTransport,
    private readonly model: Model,
    opts: InferenceWorkerOptions,
    private readonly log: Logger,
    private readonly metrics?: VisionMetrics,
  ) {
    this.batcher = new DynamicBatcher(transport, opts);
    this.modelName = basename(model.description.path);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops taking frames, finishes (and acknowledges) what it holds, then resolves. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let batch;
      try {
        batch = await this.batcher.next(() => this.stopping);
      } catch (err) {
        this.log.error({ err }, 'batch collection failed');
        continue;
      }
      if (!batch) break;
      if (batch.expired.length) {
        await this.finish(batch.expired.map((d) => failed(d, new VisionError('E_EXPIRED'))));
      }
      if (batch.live.length === 0) continue;
      const live = batch.live;
      // Decoding starts now, overlapping the previous batch's inference.
      const prepared = this.model.prepare(live.map((d) => d.job.image), live.map((d) => d.job.deadline));
      await this.inferring;
      this.inferring = this.inferBatch(live, prepared);
    }
    await this.inferring;
  }

  private async inferBatch(live: Delivery[], preparedP: Promise<PreparedBatch>): Promise<void> {
    let done: CompletedFrame[];
    try {
      const prepared = await preparedP;
      // Frames can expire while waiting for the previous batch: answer them, drop their results.
      const now = Date.now();
      const result = await this.model.infer(prepared);
      this.metrics?.workerBatchSize.observe(result.runBatchSize);
      this.metrics?.workerInference.observe(result.inferenceMs / 1000);
      this.metrics?.workerPreprocess.observe(prepared.preprocessMs / 1000);
      this.metrics?.workerBusy.inc(result.inferenceMs / 1000);
      done = live.map((d, i): CompletedFrame => {
        this.metrics?.workerQueueWait.observe(Math.max(0, d.pickedAt - d.job.receivedAt) / 1000);
        if (d.job.deadline <= now) return failed(d, new VisionError('E_EXPIRED'));
        const f = result.frames[i];
        if (!f.ok) return failed(d, f.error);
        const outcome: FrameOutcomeMessage = {
          key: d.job.key,
          connId: d.job.connId,
          ok: true,
          detections: f.value,
          model: this.modelName,
          batchSize: result.runBatchSize,
          pickedAt: d.pickedAt,
          preprocessMs: prepared.preprocessMs,
          inferenceMs: result.inferenceMs,
        };
        return { delivery: d, outcome };
      });
    } catch (err) {
      this.log.error({ err, frames: live.length }, 'inference failed');
      done = live.map((d) => failed(d, new VisionError('E_INFERENCE', `inference failed: ${(err as Error).message}`)));
    }
    await this.finish(done);
  }

  private async finish(frames: CompletedFrame[]): Promise<void> {
    for (const f of frames) this.metrics?.workerFrames.inc({ outcome: f.outcome.ok ? 'result' : f.outcome.error.code });
    try {
      await this.transport.complete(frames);
    } catch (err) {
      // Unacknowledged frames stay pending in the queue; another worker (or this one) reclaims them.
      this.log.warn({ err, frames: frames.length }, 'could not publish outcomes');
    }
  }
}

function failed(d: Delivery, err: unknown): CompletedFrame {
  return { delivery: d, outcome: { key: d.job.key, connId: d.job.connId, ok: false, error: toWireError(err) } };
}
