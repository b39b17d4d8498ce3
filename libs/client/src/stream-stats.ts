/** What a stream did over the last `windowMs`, for dashboards and the demo page. */
export interface StreamStats {
  streamId: string;
  /** Frames per second sent and results per second received, over the window. */
  fpsSent: number;
  resultsPerSecond: number;
  /** Totals since the client started. */
  sent: number;
  results: number;
  errors: number;
  /** Frames dropped at the source by pacing (latest wins). */
  skipped: number;
  /** Send → result latency over the window, ms. */
  p50Ms: number;
  p95Ms: number;
  /** Mean bytes per frame sent. */
  bytesPerFrame: number;
  /** The last result's batch size. */
  batchSize: number | undefined;
}

/** The window the SDK's rates are averaged over: long enough to smooth, short enough to follow a change. */
const WINDOW_MS = 5000;

export class StreamCounter {
  private readonly sends: number[] = [];
  private readonly results: { at: number; latencyMs: number }[] = [];
  sent = 0;
  resultCount = 0;
  errors = 0;
  skipped = 0;
  bytes = 0;
  batchSize: number | undefined;

  constructor(readonly streamId: string) {}

  onSend(bytes: number, now: number): void {
    this.sent++;
    this.bytes += bytes;
    this.sends.push(now);
    this.trim(now);
  }

  onResult(latencyMs: number, batchSize: number | undefined, now: number): void {
    this.resultCount++;
    this.batchSize = batchSize;
    this.results.push({ at: now, latencyMs });
    this.trim(now);
  }

  snapshot(now: number): StreamStats {
    this.trim(now);
    const lat = this.results.map((r) => r.latencyMs).sort((a, b) => a - b);
    const pct = (p: number) =>
      lat.length ? lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)] : NaN;
    return {
      streamId: this.streamId,
      fpsSent: this.sends.length / (WINDOW_MS / 1000),
      resultsPerSecond: this.results.length / (WINDOW_MS / 1000),
      sent: this.sent,
      results: this.resultCount,
      errors: this.errors,
      skipped: this.skipped,
      p50Ms: pct(50),
      p95Ms: pct(95),
      bytesPerFrame: this.sent ? this.bytes / this.sent : 0,
      batchSize: this.batchSize,
    };
  }

  private trim(now: number): void {
    while (this.sends.length && now - this.sends[0] > WINDOW_MS) this.sends.shift();
    while (this.results.length && now - this.results[0].at > WINDOW_MS) this.results.shift();
  }
}
