import { VisionError, type FrameJob, type FrameOutcomeMessage } from '@vision/protocol';
import type { CompletedFrame, Delivery, EdgeTransport, TransportHealth, WorkerTransport } from './transport';

export interface MemoryTransportOptions {
  /** Frames waiting for a worker beyond which `submit` refuses with `E_OVERLOADED`. @defaultValue 64 */
  maxQueue?: number;
}

/**
 * The embedded mode's queue: edge and worker in one process, same interfaces as Redis. Bounded like
 * the stream; an outcome for an edge that is not registered is dropped, as pub/sub would.
 */
export class MemoryTransport implements EdgeTransport, WorkerTransport {
  readonly kind = 'memory' as const;
  private readonly queue: FrameJob[] = [];
  private readonly edges = new Map<string, (m: FrameOutcomeMessage) => void>();
  private readonly workers = new Set<string>();
  private waiter: (() => void) | undefined;
  private seq = 0;
  private closed = false;
  private readonly maxQueue: number;

  constructor(opts: MemoryTransportOptions = {}) {
    this.maxQueue = opts.maxQueue ?? 64;
  }

  async start(id: string, onOutcome?: (m: FrameOutcomeMessage) => void): Promise<void> {
    if (onOutcome) this.edges.set(id, onOutcome);
    else this.workers.add(id);
  }

  async submit(job: FrameJob): Promise<void> {
    if (this.closed) throw new VisionError('E_UNAVAILABLE', 'the in-process queue is closed');
    if (this.queue.length >= this.maxQueue) throw new VisionError('E_OVERLOADED');
    this.queue.push(job);
    this.wake();
  }

  async read(max: number, blockMs: number): Promise<Delivery[]> {
    if (this.queue.length === 0 && blockMs > 0) {
      // Even when closed, an empty read takes its time: a caller looping on read() must never spin.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, blockMs);
        const prev = this.waiter;
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiter = () => {
          prev?.();
          done();
        };
      });
    }
    const now = Date.now();
    return this.queue.splice(0, max).map((job) => ({ id: String(++this.seq), job, deliveryCount: 1, pickedAt: now }));
  }

  async complete(frames: CompletedFrame[]): Promise<void> {
    for (const { delivery, outcome } of frames) this.edges.get(delivery.job.edgeId)?.(outcome);
  }

  async health(): Promise<TransportHealth> {
    return { reachable: !this.closed, workers: this.workers.size, backlog: this.queue.length };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
