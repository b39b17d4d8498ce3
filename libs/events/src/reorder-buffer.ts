/** A results-stream entry waiting for its turn. */
export interface Buffered<T> {
  /** Stream id (where to resume reading so that it is read again). */
  id: string;
  ts: number;
  frame: number;
  /** Wall-clock ms it was read. */
  arrivedAt: number;
  item: T;
}

export interface ReorderSnapshot {
  /** Capture time of the last frame released (anything older is late); null before the first. */
  watermark: number | null;
  /** Keys (`frame@ts`) of the last frames released, to drop re-runs. */
  recent: string[];
}

/** Orders stream ids `ms-seq` numerically. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-');
  const [bm, bs] = b.split('-');
  return Number(am) - Number(bm) || Number(as) - Number(bs);
}

/** Keys of released frames remembered per camera, to drop a re-run of one (kept in the snapshot). */
const RECENT = 512;

/**
 * Per camera: holds frames for `windowMs` of capture time (or of wall time, when the camera goes
 * quiet) and releases them in capture order, so frames answered out of order by a batch are put
 * back in order. A frame seen before (a re-run after a worker died: same frame id, same capture
 * time; the capture time tells it from a reconnecting client's restarted frame ids) is dropped,
 * and so is one older than a frame already released.
 */
export class ReorderBuffer<T> {
  private readonly pending: Buffered<T>[] = [];
  private readonly keys = new Set<string>();
  private readonly recent: string[];
  private readonly recentSet: Set<string>;
  private watermark: number;
  private maxTs = -Infinity;

  constructor(
    private readonly windowMs: number,
    private readonly maxPending: number,
    snapshot?: ReorderSnapshot,
  ) {
    this.watermark = snapshot?.watermark ?? -Infinity;
    this.recent = snapshot?.recent.slice(-RECENT) ?? [];
    this.recentSet = new Set(this.recent);
  }

  get size(): number {
    return this.pending.length;
  }

  get lastReleasedTs(): number {
    return this.watermark;
  }

  offer(b: Buffered<T>): 'buffered' | 'duplicate' | 'late' {
    const key = `${b.frame}@${b.ts}`;
    if (this.recentSet.has(key) || this.keys.has(key)) return 'duplicate';
    if (b.ts < this.watermark) return 'late';
    // Binary search for the first pending frame that sorts after this one (capture time, then frame id).
    let lo = 0;
    let hi = this.pending.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.pending[mid];
      if (m.ts < b.ts || (m.ts === b.ts && m.frame <= b.frame)) lo = mid + 1;
      else hi = mid;
    }
    this.pending.splice(lo, 0, b);
    this.keys.add(key);
    if (b.ts > this.maxTs) this.maxTs = b.ts;
    return 'buffered';
  }

  /** Frames whose turn has come at wall time `now`, in capture order; `flush` releases all. */
  ready(now: number, flush = false): Buffered<T>[] {
    const out: Buffered<T>[] = [];
    while (this.pending.length) {
      const head = this.pending[0];
      const due =
        flush ||
        this.pending.length > this.maxPending ||
        head.ts <= this.maxTs - this.windowMs ||
        now - head.arrivedAt >= this.windowMs;
      if (!due) break;
      this.pending.shift();
      const key = `${head.frame}@${head.ts}`;
      this.keys.delete(key);
      this.recent.push(key);
      this.recentSet.add(key);
      if (this.recent.length > RECENT) this.recentSet.delete(this.recent.shift()!);
      this.watermark = head.ts;
      out.push(head);
    }
    return out;
  }

  /** The smallest stream id still held, or undefined: reading must resume before it. */
  oldestId(): string | undefined {
    let min: string | undefined;
    for (const b of this.pending) if (min === undefined || compareStreamIds(b.id, min) < 0) min = b.id;
    return min;
  }

  snapshot(): ReorderSnapshot {
    return { watermark: Number.isFinite(this.watermark) ? this.watermark : null, recent: this.recent.slice() };
  }
}
