/** Intervals longer than this are pauses, not a frame rate. */
const MAX_INTERVAL_MS = 5000;
/** A stream that missed this many of its intervals has stopped: it no longer forecasts. */
const STALE_INTERVALS = 3;
/**
 * Frames come a little early or late: a frame's window spans this share of an interval around its
 * slot, at most MAX_JITTER_MS.
 */
const JITTER = 0.1;
/** The widest that window gets, however long the interval. */
const MAX_JITTER_MS = 15;

/**
 * When the next real-time frame is due, from each stream's recent arrival interval (cameras send at a
 * steady rate). The batcher starts backfill work only when it will be done before then, so live
 * frames do not queue behind bulk images on an accelerator whose runs take long (a CPU).
 */
export class ArrivalForecast {
  private readonly streams = new Map<string, { last: number; interval: number | undefined }>();

  constructor(private readonly maxStreams = 10_000) {}

  arrived(stream: string, at: number): void {
    const s = this.streams.get(stream);
    if (!s) {
      if (this.streams.size >= this.maxStreams) this.streams.delete(this.streams.keys().next().value!);
      this.streams.set(stream, { last: at, interval: undefined });
      return;
    }
    const delta = at - s.last;
    if (delta > 0 && delta < MAX_INTERVAL_MS)
      s.interval = s.interval === undefined ? delta : 0.7 * s.interval + 0.3 * delta;
    s.last = Math.max(s.last, at);
  }

  /**
   * The earliest window (epoch ms) in which a stream's next frame is due: its slot ± the jitter
   * allowance. A frame a little late keeps its window open until it closes. Undefined: no stream is regular.
   */
  next(now: number): { from: number; to: number } | undefined {
    let soonest: { from: number; to: number } | undefined;
    for (const [key, s] of this.streams) {
      if (s.interval === undefined) continue;
      const since = now - s.last;
      if (since > STALE_INTERVALS * s.interval) {
        this.streams.delete(key);
        continue;
      }
      const jitter = Math.min(JITTER * s.interval, MAX_JITTER_MS);
      const slot = s.last + s.interval * Math.max(1, Math.ceil((since - jitter) / s.interval));
      const w = { from: slot - jitter, to: slot + jitter };
      if (soonest === undefined || w.from < soonest.from) soonest = w;
    }
    return soonest;
  }
}
