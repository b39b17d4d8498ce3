import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Delivery, WorkerTransport } from '@vision/transport';
import { ReadyPool } from './ready-pool';

/** Where frames come from, and where their outcomes go: the real-time stream, or the bulk-job source beside it. */
export type FrameSource = Pick<WorkerTransport, 'read' | 'complete'>;

export interface LaneOptions {
  /** Most frames of this lane the worker holds at once. */
  capacity: number;
  /** Whether frames in a running batch still count against `capacity` (they do for backfill). */
  countsRunning: boolean;
  /** How long an idle read blocks; bounds how long a stop waits. */
  idleBlockMs: number;
  /** Pause after a failed read (sources that throw rather than back off themselves). */
  retryMs: number;
  label: string;
}

/**
 * One source of frames and what the worker holds of it: frames waiting for a decoder and frames
 * ready for a batch, each taken round-robin by tenant, and the read loop that keeps it topped up to
 * its capacity. The worker has two: real-time frames, and the bulk images that backfill idle time.
 */
export class Lane<D> {
  readonly waiting = new ReadyPool<undefined>();
  readonly ready = new ReadyPool<D>();
  /** Frames held: waiting, decoding, ready, and (if `countsRunning`) running. */
  private held = 0;
  private roomWaiter: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    readonly source: FrameSource,
    private readonly opts: LaneOptions,
    private readonly log: Logger,
  ) {}

  /** Reads until `stopping()`, handing each frame to `accept` (which puts it in `waiting`). */
  start(accept: (d: Delivery) => void, stopping: () => boolean): void {
    this.loop ??= (async () => {
      while (!stopping()) {
        const room = this.opts.capacity - this.held;
        if (room <= 0) {
          await new Promise<void>((r) => (this.roomWaiter = r));
          continue;
        }
        let got: Delivery[];
        try {
          got = await this.source.read(room, this.opts.idleBlockMs);
        } catch (err) {
          this.log.error({ err, lane: this.opts.label }, 'reading frames failed');
          await sleep(this.opts.retryMs);
          continue;
        }
        this.held += got.length;
        for (const d of got) accept(d);
      }
    })();
  }

  /** Resolves once the read loop has ended. */
  stopped(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  /** Frames that entered a batch: they leave the count unless running frames count. */
  dispatched(n: number): void {
    if (!this.opts.countsRunning) this.release(n);
  }

  /** Frames finished without running (expired, undecodable), or finished running where running counts. */
  finished(n: number, ran: boolean): void {
    if (!ran || this.opts.countsRunning) this.release(n);
  }

  wake(): void {
    const w = this.roomWaiter;
    this.roomWaiter = undefined;
    w?.();
  }

  private release(n: number): void {
    this.held -= n;
    this.wake();
  }
}
