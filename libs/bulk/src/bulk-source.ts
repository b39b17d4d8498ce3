import type { CompletedFrame, Delivery } from '@vision/transport';
import type { BulkJobs } from './bulk-jobs';
import type { JobMeta } from './job-status';

/** Bulk frames have no deadline: they wait for idle capacity, however long that takes. */
const NO_DEADLINE = Number.MAX_SAFE_INTEGER;
/** How often a running job looks whether it was cancelled. */
const CANCEL_CHECK_MS = 1000;

interface Active {
  meta: JobMeta;
  /** Image indices not yet handed out. */
  next: number[];
  /** Handed out and not yet recorded. */
  inHand: number;
  checkedAt: number;
  abandoned: boolean;
  end: (state: RunEnd) => void;
}

/** How a job's run ended here: every image recorded, cancelled, or handed back (this worker stops). */
export type RunEnd = 'completed' | 'cancelled' | 'abandoned';

/**
 * The low-priority frame source of one model's batcher: images of the bulk jobs this worker runs,
 * handed out round-robin by tenant (then by job), so one tenant's big job does not starve another's.
 * The batcher only takes from it when real-time frames leave room.
 */
export class BulkSource {
  private readonly active = new Map<string, Active>();
  private turn = 0;
  private waiter: (() => void) | undefined;
  /** Images recorded since start (the bulk images/s counter reads it). */
  onRecorded?: (n: number) => void;

  constructor(private readonly jobs: BulkJobs) {}

  /** Runs `meta`'s remaining images through the batcher; resolves once each has a result, or the job was cancelled. */
  run(meta: JobMeta, recorded: Set<number>): Promise<RunEnd> {
    return new Promise((resolve) => {
      const next = Array.from({ length: meta.total }, (_, i) => i).filter((i) => !recorded.has(i));
      const a: Active = { meta, next, inHand: 0, checkedAt: Date.now(), abandoned: false, end: () => undefined };
      a.end = (state) => {
        if (!this.active.delete(meta.id)) return;
        resolve(state);
      };
      if (next.length === 0) return resolve('completed');
      this.active.set(meta.id, a);
      this.wake();
    });
  }

  /** Up to `max` images, waiting at most `blockMs` for the first. */
  async read(max: number, blockMs: number): Promise<Delivery[]> {
    if (!this.hasWork() && blockMs > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, blockMs);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.waiter = done;
      });
    }
    const out: Delivery[] = [];
    while (out.length < max) {
      const a = this.pick();
      if (!a) break;
      const index = a.next.shift()!;
      if (Date.now() - a.checkedAt > CANCEL_CHECK_MS) {
        a.checkedAt = Date.now();
        if ((await this.jobs.meta(a.meta.id))?.state === 'cancelled') {
          a.end('cancelled');
          continue;
        }
      }
      const image = await this.jobs.image(a.meta.id, index);
      if (!image) {
        // The images went with a cancel (or expired): the job is over.
        a.end('cancelled');
        continue;
      }
      a.inHand++;
      const now = Date.now();
      out.push({
        id: `bulk:${a.meta.id}:${index}`,
        job: {
          key: `bulk:${a.meta.id}:${index}`,
          edgeId: '',
          connId: '',
          frameId: index,
          receivedAt: now,
          deadline: NO_DEADLINE,
          tenant: a.meta.tenant,
          bytes: image.length,
          cost: 1,
          image,
          model: a.meta.model,
        },
        deliveryCount: 1,
        pickedAt: now,
      });
    }
    return out;
  }

  /** Records the outcomes; a job whose every image has one is complete. */
  async complete(frames: CompletedFrame[]): Promise<void> {
    let recorded = 0;
    for (const { delivery, outcome } of frames) {
      const [, id, index] = delivery.id.split(':');
      const a = this.active.get(id);
      if (await this.jobs.record(id, Number(index), outcome)) recorded++;
      if (!a) continue;
      a.inHand--;
      if (a.next.length === 0 && a.inHand === 0) a.end(a.abandoned ? 'abandoned' : 'completed');
    }
    if (recorded) this.onRecorded?.(recorded);
  }

  hasWork(): boolean {
    for (const a of this.active.values()) if (a.next.length) return true;
    return false;
  }

  /**
   * Stops handing out images (a stopping worker): each job ends once its images in hand are recorded,
   * and resumes elsewhere.
   */
  abandonAll(): void {
    for (const a of [...this.active.values()]) {
      a.abandoned = true;
      a.next.length = 0;
      if (a.inHand === 0) a.end('abandoned');
    }
  }

  /** Round-robin over tenants, then over each tenant's jobs. */
  private pick(): Active | undefined {
    const byTenant = new Map<string, Active[]>();
    for (const a of this.active.values()) {
      if (!a.next.length) continue;
      const list = byTenant.get(a.meta.tenant) ?? [];
      list.push(a);
      byTenant.set(a.meta.tenant, list);
    }
    if (byTenant.size === 0) return undefined;
    const tenants = [...byTenant.keys()].sort();
    const t = tenants[this.turn % tenants.length];
    const jobs = byTenant.get(t)!;
    const a = jobs[Math.floor(this.turn / tenants.length) % jobs.length];
    this.turn++;
    return a;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
