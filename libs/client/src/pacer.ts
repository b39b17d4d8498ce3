/**
 * Client-side flow control: at most `window` frames open per stream; when the app produces frames
 * faster, only the newest waits and an older waiting frame is skipped (never sent). The server
 * applies the same rule, so a paced client never loses frames to it.
 */
export class Pacer<T> {
  private open = 0;
  private waiting: T | undefined;
  skipped = 0;

  constructor(public window: number) {}

  get openFrames(): number {
    return this.open;
  }

  /**
   * `send`: send it now (a slot is taken); otherwise it waits, and `skipped` is the older waiting
   * frame it replaced (never to be sent). `canSend` false (no connection) makes every frame wait.
   */
  offer(item: T, canSend = true): { send?: T; skipped?: T } {
    if (canSend && this.open < this.window) {
      this.open++;
      return { send: item };
    }
    const skipped = this.waiting;
    if (skipped !== undefined) this.skipped++;
    this.waiting = item;
    return skipped === undefined ? {} : { skipped };
  }

  /** The waiting frame, taking a slot for it, if one is free (after a reconnect). */
  flush(): T | undefined {
    if (this.waiting === undefined || this.open >= this.window) return undefined;
    const next = this.waiting;
    this.waiting = undefined;
    this.open++;
    return next;
  }

  /** Takes the waiting frame out without sending it (the client is closing). */
  dropWaiting(): T | undefined {
    const waiting = this.waiting;
    this.waiting = undefined;
    return waiting;
  }

  /** A frame was answered (or given up): frees its slot and returns the waiting frame to send, if any. */
  done(canSend = true): T | undefined {
    this.open = Math.max(0, this.open - 1);
    return canSend ? this.flush() : undefined;
  }
}
