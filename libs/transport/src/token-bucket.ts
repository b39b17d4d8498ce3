/**
 * A token bucket of `capacity` tokens refilled at `ratePerSecond`; the same arithmetic as the
 * Redis admission script, for limits one process holds alone (a connection's rates, embedded mode).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number = Math.max(1, ratePerSecond),
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = this.capacity;
    this.last = this.now();
  }

  /** Takes one token: 0 when granted, else how many ms until one is available. */
  take(): number {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond);
  }

  /**
   * Takes `n` tokens whether or not they are there (bytes that already arrived), going into debt;
   * returns how many ms until the debt is paid off (0 if there was none).
   */
  consume(n: number): number {
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.ratePerSecond);
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + (Math.max(0, t - this.last) * this.ratePerSecond) / 1000);
    this.last = t;
  }
}
