import { ArrivalForecast } from './arrival-forecast';

/** Backfill starts only if it should end this long before the next real-time frame is due. */
const YIELD_MARGIN_MS = 5;

/**
 * When a batch of backfill alone (bulk images) may start: never while a real-time frame waits for a
 * decoder or is being decoded, and not when it would still run at the next real-time frame's
 * forecast arrival (each stream's arrival interval, ArrivalForecast). Trades idle time for
 * real-time latency where runs are long (a CPU).
 */
export class BackfillPolicy {
  private readonly forecast = new ArrivalForecast();
  /** Recent run time of a backfill-only batch, ms (EWMA). */
  private bulkRunMs: number | undefined;

  constructor(private readonly yieldToLive: boolean) {}

  /** A real-time frame of `stream` arrived at `at` (the worker's clock). */
  arrived(stream: string, at: number): void {
    this.forecast.arrived(stream, at);
  }

  /** A batch of backfill only took `ms`. */
  ranBulkOnly(ms: number): void {
    this.bulkRunMs = this.bulkRunMs === undefined ? ms : 0.8 * this.bulkRunMs + 0.2 * ms;
  }

  /**
   * Whether a backfill-only batch should wait: for a real-time frame being decoded ('live'), or
   * (ms) past the next forecast arrival when the batch would still be running then. 0: start now.
   */
  wait(now: number, liveInDecode: boolean): number | 'live' {
    if (!this.yieldToLive) return 0;
    if (liveInDecode) return 'live';
    const due = this.forecast.next(now);
    if (due === undefined || this.bulkRunMs === undefined) return 0;
    // A run that would overlap the next frame's window waits until the window has closed.
    return due.from - now < this.bulkRunMs + YIELD_MARGIN_MS ? Math.max(1, due.to - now) : 0;
  }
}
