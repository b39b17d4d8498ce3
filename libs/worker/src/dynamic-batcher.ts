import type { Delivery, WorkerTransport } from '@vision/transport';

export interface DynamicBatcherOptions {
  /** Most frames per batch. @defaultValue 8 */
  maxBatch: number;
  /** How long a batch may wait for more frames, counted from its first frame. @defaultValue 10 */
  maxWaitMs: number;
  /** Blocking read length while idle; bounds how long a stop request waits. @defaultValue 1000 */
  idleBlockMs?: number;
}

export interface Batch {
  /** Frames to infer, in arrival order. */
  live: Delivery[];
  /** Frames whose deadline had passed on arrival: answered `E_EXPIRED`, never inferred. */
  expired: Delivery[];
}

/**
 * Forms batches like Triton's dynamic batcher: a batch closes when it holds `maxBatch` frames or
 * when `maxWaitMs` has passed since its first frame, whichever comes first. Expired frames do not
 * count towards the size bound.
 */
export class DynamicBatcher {
  constructor(
    private readonly source: Pick<WorkerTransport, 'read'>,
    private readonly opts: DynamicBatcherOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** The next batch, or `undefined` once `stopped()` turns true while waiting for a first frame. */
  async next(stopped: () => boolean): Promise<Batch | undefined> {
    const live: Delivery[] = [];
    const expired: Delivery[] = [];
    const take = (frames: Delivery[]) => {
      const t = this.now();
      for (const f of frames) (f.job.deadline <= t ? expired : live).push(f);
    };
    while (live.length === 0) {
      if (stopped()) return expired.length ? { live, expired } : undefined;
      take(await this.source.read(this.opts.maxBatch, this.opts.idleBlockMs ?? 1000));
      if (live.length === 0 && expired.length > 0) return { live, expired };
    }
    const windowEnds = this.now() + this.opts.maxWaitMs;
    while (live.length < this.opts.maxBatch) {
      const remaining = windowEnds - this.now();
      if (remaining <= 0) break;
      const more = await this.source.read(this.opts.maxBatch - live.length, remaining);
      take(more);
      if (more.length === 0) break; // the read blocked for the whole remaining window
    }
    return { live, expired };
  }
}
