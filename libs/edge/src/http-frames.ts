import { VisionError, type ErrorCode, type FrameOutcomeMessage } from '@vision/protocol';

interface Pending {
  resolve(outcome: HttpOutcome): void;
  timer: NodeJS.Timeout;
  receivedAt: number;
}

export type HttpOutcome = { ok: true; result: Extract<FrameOutcomeMessage, { ok: true }>; receivedAt: number } | { ok: false; error: VisionError };

/**
 * Frames that arrive as HTTP requests: one frame per request, the same deadline and outcome
 * routing as WebSocket frames, no flow-control window (the client's concurrency is its window).
 */
export class HttpFrames {
  private readonly open = new Map<string, Pending>();
  private seq = 0;

  constructor(
    readonly connId: string,
    private readonly limits: { deadlineMs: number; resultMarginMs: number },
    private readonly submit: (f: { key: string; frameId: number; receivedAt: number; deadline: number; image: Buffer }) => Promise<void>,
  ) {}

  get size(): number {
    return this.open.size;
  }

  detect(image: Buffer): Promise<HttpOutcome> {
    const receivedAt = Date.now();
    const frameId = ++this.seq;
    const key = `${this.connId}.${frameId}`;
    const deadline = receivedAt + this.limits.deadlineMs;
    return new Promise<HttpOutcome>((resolve) => {
      const timer = setTimeout(() => this.settle(key, { ok: false, error: new VisionError('E_TIMEOUT') }), deadline + this.limits.resultMarginMs - receivedAt);
      this.open.set(key, { resolve, timer, receivedAt });
      this.submit({ key, frameId, receivedAt, deadline, image }).catch((err: unknown) =>
        this.settle(key, { ok: false, error: err instanceof VisionError ? err : new VisionError('E_INTERNAL') }),
      );
    });
  }

  onOutcome(m: FrameOutcomeMessage): void {
    const p = this.open.get(m.key);
    if (!p) return;
    this.settle(m.key, m.ok ? { ok: true, result: m, receivedAt: p.receivedAt } : { ok: false, error: new VisionError(m.error.code, m.error.message) });
  }

  failOpen(code: ErrorCode, message: string): void {
    for (const key of [...this.open.keys()]) this.settle(key, { ok: false, error: new VisionError(code, message) });
  }

  private settle(key: string, outcome: HttpOutcome): void {
    const p = this.open.get(key);
    if (!p) return;
    clearTimeout(p.timer);
    this.open.delete(key);
    p.resolve(outcome);
  }
}
