export interface BackoffOptions {
  /** First delay. @defaultValue 1000 */
  initialMs?: number;
  /** @defaultValue 1.5 */
  factor?: number;
  /** @defaultValue 30000 */
  maxMs?: number;
  /** Each delay is spread uniformly over ±jitter of itself, so a fleet does not reconnect in step. @defaultValue 0.2 */
  jitter?: number;
  /** A connection that stayed up this long resets the sequence. @defaultValue 60000 */
  stableMs?: number;
  random?: () => number;
}

/** Reconnect delays: 1 s, ×1.5 each attempt, capped at 30 s, with jitter; reset after a stable minute. */
export class Backoff {
  private attempt = 0;
  private openedAt: number | undefined;
  private readonly o: Required<BackoffOptions>;

  constructor(opts: BackoffOptions = {}) {
    this.o = {
      initialMs: 1000,
      factor: 1.5,
      maxMs: 30_000,
      jitter: 0.2,
      stableMs: 60_000,
      random: Math.random,
      ...opts,
    };
  }

  /** The connection opened at `now`. */
  opened(now: number): void {
    this.openedAt = now;
  }

  /** The connection dropped at `now`: the delay before the next attempt. */
  next(now: number): number {
    if (this.openedAt !== undefined && now - this.openedAt >= this.o.stableMs) this.attempt = 0;
    this.openedAt = undefined;
    const base = Math.min(this.o.maxMs, this.o.initialMs * this.o.factor ** this.attempt);
    this.attempt++;
    const spread = base * this.o.jitter * (2 * this.o.random() - 1);
    return Math.max(0, Math.round(base + spread));
  }
}
