import { VisionError, type ErrorCode, type FrameOutcomeMessage } from '@vision/protocol';
import type { EdgeTransport } from '@vision/transport';

export type OkOutcome = Extract<FrameOutcomeMessage, { ok: true }>;

/** How an open frame ended. Exactly one per submitted frame. */
export type Settled = { ok: true; result: OkOutcome; receivedAt: number } | { ok: false; error: VisionError; receivedAt: number };

export interface LedgerFrame {
  connId: string;
  frameId: number;
  tenant: string;
  receivedAt: number;
  deadline: number;
  image: Buffer;
  model: string;
  streamId?: string;
}

interface Entry {
  connId: string;
  receivedAt: number;
  timer: NodeJS.Timeout;
  onSettled: (s: Settled) => void;
}

/**
 * Every frame this edge submitted and has not answered, whichever path (WebSocket or HTTP) it came
 * by: one deadline + margin timer each, outcomes routed by key, and failure of all of a
 * connection's frames (or all frames) at once. A frame is settled exactly once.
 */
export class FrameLedger {
  private readonly open = new Map<string, Entry>();
  /** Open keys per connection: closing a socket must not scan every open frame of the edge. */
  private readonly byConn = new Map<string, Set<string>>();
  private seq = 0;

  constructor(
    private readonly edgeId: string,
    private readonly resultMarginMs: number,
    private readonly transport: Pick<EdgeTransport, 'submit'>,
    /** Throws (e.g. `E_SHUTTING_DOWN`) when frames must not be submitted now. */
    private readonly admit: () => void,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** Enqueues `f`; `onSettled` is called once, with the result or why there is none. */
  submit(f: LedgerFrame, onSettled: (s: Settled) => void): void {
    const key = `${f.connId}.${++this.seq}`;
    // The edge answers by deadline + margin whatever happens downstream (a lost pub/sub message,
    // a dead worker): a client is never left waiting.
    const timer = setTimeout(() => this.fail(key, new VisionError('E_TIMEOUT')), f.deadline + this.resultMarginMs - Date.now());
    this.open.set(key, { connId: f.connId, receivedAt: f.receivedAt, timer, onSettled });
    const keys = this.byConn.get(f.connId);
    if (keys) keys.add(key);
    else this.byConn.set(f.connId, new Set([key]));
    try {
      this.admit();
    } catch (err) {
      return this.fail(key, err);
    }
    this.transport
      .submit({
        key, edgeId: this.edgeId, connId: f.connId, frameId: f.frameId, receivedAt: f.receivedAt, deadline: f.deadline, tenant: f.tenant, bytes: f.image.length, image: f.image, model: f.model,
        ...(f.streamId !== undefined ? { streamId: f.streamId } : {}),
      })
      .catch((err: unknown) => this.fail(key, err));
  }

  /** An outcome from a worker. Unknown or late keys (already settled) are ignored. */
  onOutcome(m: FrameOutcomeMessage): void {
    const e = this.take(m.key);
    if (!e) return;
    e.onSettled(m.ok ? { ok: true, result: m, receivedAt: e.receivedAt } : { ok: false, error: new VisionError(m.error.code), receivedAt: e.receivedAt });
  }

  /** Settles every open frame with `code` (the queue connection dropped, or the edge drains). */
  failOpen(code: ErrorCode, message: string): void {
    for (const key of [...this.open.keys()]) this.fail(key, new VisionError(code, message));
  }

  /** The connection is gone: its frames are dropped quietly (their outcomes will be ignored). */
  forget(connId: string): void {
    for (const key of [...(this.byConn.get(connId) ?? [])]) this.take(key);
  }

  private fail(key: string, err: unknown): void {
    const e = this.take(key);
    if (!e) return;
    const error = err instanceof VisionError ? err : new VisionError('E_INTERNAL', String(err));
    e.onSettled({ ok: false, error, receivedAt: e.receivedAt });
  }

  private take(key: string): Entry | undefined {
    const e = this.open.get(key);
    if (!e) return undefined;
    clearTimeout(e.timer);
    this.open.delete(key);
    const keys = this.byConn.get(e.connId);
    keys?.delete(key);
    if (keys?.size === 0) this.byConn.delete(e.connId);
    return e;
  }
}
