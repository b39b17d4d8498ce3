import type { Delivery } from '@vision/transport';

/** A frame waiting in the worker: for a decoder (`decoded` undefined) or for an engine. */
export interface ReadyFrame<D> {
  delivery: Delivery;
  decoded: D;
  /** Epoch ms it entered the pool (for the optional batching delay). */
  readyAt: number;
}

/**
 * Frames waiting in the worker, per tenant, taken round-robin by tenant so that one tenant's burst
 * does not fill every batch (or every decoder) ahead of another tenant's frame.
 */
export class ReadyPool<D> {
  private readonly byTenant = new Map<string, ReadyFrame<D>[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The oldest ready time, if any frame waits. */
  get oldestReadyAt(): number | undefined {
    let oldest: number | undefined;
    for (const q of this.byTenant.values())
      if (q.length && (oldest === undefined || q[0].readyAt < oldest)) oldest = q[0].readyAt;
    return oldest;
  }

  add(f: ReadyFrame<D>): void {
    const key = f.delivery.job.tenant ?? '';
    const q = this.byTenant.get(key);
    if (q) q.push(f);
    else this.byTenant.set(key, [f]);
    this.count++;
  }

  /** Up to `max` frames, one per tenant in turn (each tenant's own frames in arrival order). */
  take(max: number): ReadyFrame<D>[] {
    const out: ReadyFrame<D>[] = [];
    while (out.length < max && this.count > 0) {
      for (const [key, q] of this.byTenant) {
        if (out.length >= max) break;
        out.push(q.shift()!);
        this.count--;
        // Re-inserting moves a tenant that still has frames behind the others: fair across calls too.
        this.byTenant.delete(key);
        if (q.length) this.byTenant.set(key, q);
      }
    }
    return out;
  }

  /** Tenants with frames waiting. */
  tenants(): IterableIterator<string> {
    return this.byTenant.keys();
  }

  /** The next frame of the first tenant (in turn) that `eligible` allows, or undefined. */
  takeOne(eligible: (tenant: string) => boolean): ReadyFrame<D> | undefined {
    for (const [key, q] of this.byTenant) {
      if (!eligible(key)) continue;
      const f = q.shift()!;
      this.count--;
      this.byTenant.delete(key);
      if (q.length) this.byTenant.set(key, q);
      return f;
    }
    return undefined;
  }

  /** Removes and returns every frame matching `pred` (e.g. past its deadline). */
  remove(pred: (f: ReadyFrame<D>) => boolean): ReadyFrame<D>[] {
    const out: ReadyFrame<D>[] = [];
    for (const [key, q] of this.byTenant) {
      const keep = q.filter((f) => !pred(f) || (out.push(f), false));
      if (keep.length) this.byTenant.set(key, keep);
      else this.byTenant.delete(key);
    }
    this.count -= out.length;
    return out;
  }
}
