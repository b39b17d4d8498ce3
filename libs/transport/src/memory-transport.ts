import { VisionError } from '@vision/wire';
import { type FrameJob, type FrameOutcomeMessage, type ModelAnnouncement } from './frame-job';
import { decideAdmission, refusalError, type AdmissionLimits } from './admission';
import {
  combineQueues,
  type CompletedFrame,
  type Delivery,
  type EdgeTransport,
  type ModelStatus,
  type TransportHealth,
  type WorkerTransport,
} from './transport';

interface ModelQueue {
  jobs: FrameJob[];
  workers: Set<string>;
  waiter: (() => void) | undefined;
  announced: ModelAnnouncement | undefined;
  /** Frames read by a worker and not completed. */
  inHand: number;
}

/**
 * The embedded mode's queue: edge and worker in one process, same interfaces as Redis. One bounded
 * queue per model, like the streams; `worker(model)` is a worker's view of one of them. An outcome
 * for an edge that is not registered is dropped, as pub/sub would.
 */
export class MemoryTransport implements EdgeTransport {
  readonly kind = 'memory' as const;
  private readonly queues = new Map<string, ModelQueue>();
  private readonly edges = new Map<string, (m: FrameOutcomeMessage) => void>();
  private seq = 0;
  private closed = false;
  /** Cost units open (admitted, not finished) per tenant, and their bytes. */
  private readonly open = new Map<string, number>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private bytes = 0;

  constructor(private readonly limits: AdmissionLimits) {}

  async start(edgeId: string, onOutcome: (m: FrameOutcomeMessage) => void): Promise<void> {
    this.edges.set(edgeId, onOutcome);
  }

  async submit(job: FrameJob): Promise<void> {
    if (this.closed) throw new VisionError('E_UNAVAILABLE', 'the in-process queue is closed');
    const q = this.queue(job.model);
    const now = Date.now();
    const mine = this.open.get(job.tenant) ?? 0;
    const decision = decideAdmission(
      {
        now,
        workers: q.workers.size,
        bucket: this.buckets.get(job.tenant),
        mine,
        activeTenants: this.open.size,
        backlog: q.jobs.length,
        bytes: this.bytes,
      },
      { cost: job.cost, bytes: job.image.length },
      this.limits,
    );
    if (decision.outcome !== 'admitted') throw refusalError(decision.outcome, decision.retryAfterMs);
    // Idle buckets are full buckets: forgetting them is exact enough.
    if (this.buckets.size > 10_000) this.buckets.clear();
    this.buckets.set(job.tenant, { tokens: decision.tokens, at: now });
    this.open.set(job.tenant, mine + job.cost);
    this.bytes += job.image.length;
    q.jobs.push(job);
    wake(q);
  }

  async health(models: readonly string[]): Promise<TransportHealth> {
    return { ...combineQueues(Object.values(await this.models(models))), reachable: !this.closed };
  }

  async models(ids: readonly string[]): Promise<Record<string, ModelStatus>> {
    return Object.fromEntries(
      ids.map((id) => {
        const q = this.queue(id);
        return [id, { workers: q.workers.size, backlog: q.jobs.length, pending: q.inHand, announced: q.announced }];
      }),
    );
  }

  /** A worker's view: reads `model`'s queue and reports to this transport's edges. */
  worker(model: string): WorkerTransport {
    const q = this.queue(model);
    let id: string | undefined;
    return {
      kind: 'memory',
      model,
      start: async (workerId) => {
        id = workerId;
        q.workers.add(workerId);
      },
      read: (max, blockMs) => this.read(q, max, blockMs),
      complete: async (frames) => this.complete(frames),
      health: () => this.health([model]),
      announce: async (a) => {
        q.announced = a;
      },
      close: async () => {
        if (id !== undefined) q.workers.delete(id);
        wake(q);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queues.values()) wake(q);
  }

  private queue(model: string): ModelQueue {
    let q = this.queues.get(model);
    if (!q)
      this.queues.set(
        model,
        (q = { jobs: [], workers: new Set(), waiter: undefined, announced: undefined, inHand: 0 }),
      );
    return q;
  }

  private async read(q: ModelQueue, max: number, blockMs: number): Promise<Delivery[]> {
    if (q.jobs.length === 0 && blockMs > 0) {
      // Even when closed, an empty read takes its time: a caller looping on read() must never spin.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, blockMs);
        const prev = q.waiter;
        function done() {
          clearTimeout(timer);
          resolve();
        }
        q.waiter = () => {
          prev?.();
          done();
        };
      });
    }
    const now = Date.now();
    const taken = q.jobs.splice(0, max);
    q.inHand += taken.length;
    return taken.map((job) => ({ id: String(++this.seq), job, deliveryCount: 1, pickedAt: now }));
  }

  private complete(frames: CompletedFrame[]): void {
    for (const { delivery, outcome } of frames) {
      const t = delivery.job.tenant;
      const n = (this.open.get(t) ?? 0) - delivery.job.cost;
      if (n > 0) this.open.set(t, n);
      else this.open.delete(t);
      this.bytes -= delivery.job.image.length;
      this.queue(delivery.job.model).inHand--;
      this.edges.get(delivery.job.edgeId)?.(outcome);
    }
  }
}

function wake(q: ModelQueue): void {
  const w = q.waiter;
  q.waiter = undefined;
  w?.();
}
