import { VisionError, type FrameJob, type FrameOutcomeMessage } from '@vision/protocol';
import { TokenBucket } from './token-bucket';
import { DEFAULT_ADMISSION, type AdmissionLimits, type CompletedFrame, type Delivery, type EdgeTransport, type TransportHealth, type WorkerTransport } from './transport';

export type MemoryTransportOptions = Partial<AdmissionLimits>;

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
  private readonly limits: AdmissionLimits;
  /** Open frames (admitted, not finished) per tenant, and their bytes. */
  private readonly open = new Map<string, number>();
  private readonly rates = new Map<string, TokenBucket>();
  private bytes = 0;

  constructor(opts: MemoryTransportOptions = {}) {
    this.limits = { ...DEFAULT_ADMISSION, ...opts };
  }

  async start(id: string, onOutcome?: (m: FrameOutcomeMessage) => void): Promise<void> {
    if (onOutcome) this.edges.set(id, onOutcome);
    else this.workers.add(id);
  }

  async submit(job: FrameJob): Promise<void> {
    if (this.closed) throw new VisionError('E_UNAVAILABLE', 'the in-process queue is closed');
    if (this.workers.size === 0) throw new VisionError('E_UNAVAILABLE', 'no worker is serving');
    // The same policy as the Redis admission script (libs/transport/lua/submit.lua).
    const l = this.limits;
    let bucket = this.rates.get(job.tenant);
    if (!bucket) this.rates.set(job.tenant, (bucket = new TokenBucket(l.tenantFramesPerSecond)));
    const mine = this.open.get(job.tenant) ?? 0;
    const active = this.open.size + (mine === 0 ? 1 : 0);
    const share = Math.min(l.tenantMaxQueue, Math.max(1, Math.floor(l.maxQueue / active)));
    if (mine >= share || this.queue.length >= l.maxQueue || this.bytes + job.image.length > l.maxQueueBytes) {
      throw new VisionError('E_OVERLOADED');
    }
    const retryAfterMs = bucket.take();
    if (retryAfterMs > 0) throw new VisionError('E_RATE_LIMITED', 'tenant frame rate exceeded', { retryAfterMs });
    if (this.rates.size > 10_000) this.rates.clear(); // idle buckets are full buckets: forgetting them is exact enough
    this.open.set(job.tenant, mine + 1);
    this.bytes += job.image.length;
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
    for (const { delivery, outcome } of frames) {
      const t = delivery.job.tenant;
      const n = (this.open.get(t) ?? 1) - 1;
      if (n > 0) this.open.set(t, n);
      else this.open.delete(t);
      this.bytes -= delivery.job.image.length;
      this.edges.get(delivery.job.edgeId)?.(outcome);
    }
  }

  async health(): Promise<TransportHealth> {
    let open = 0;
    for (const n of this.open.values()) open += n;
    return { reachable: !this.closed, workers: this.workers.size, backlog: this.queue.length, pending: open - this.queue.length };
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
