import { VisionError, type ErrorCode, type FrameFindings, type Timings } from '@vision/wire';
import type { EdgeTransport, FrameOutcomeMessage } from '@vision/transport';

type OkOutcome = Extract<FrameOutcomeMessage, { ok: true }>;

/** One frame on the edge, from the socket (or HTTP body) to its outcome: the only shape it has here. */
export interface EdgeFrame {
  connId: string;
  frameId: number;
  /** Whose limits and share the frame counts against (token subject, or client address). */
  tenant: string;
  model: string;
  streamId?: string;
  captureTs?: number;
  /** Epoch ms the edge received it. */
  receivedAt: number;
  /** Epoch ms after which inference is pointless. */
  deadline: number;
  image: Buffer;
  /** Admission cost units (see `frameCost`). */
  cost: number;
}

/** A result as both transports (WebSocket, HTTP) answer it: what the worker found and the frame's timings. */
export interface FrameResult extends FrameFindings {
  model: string;
  modelVersion: string;
  batchSize: number;
  timings: Timings;
}

/** How an open frame ended. Exactly one per submitted frame. */
export type Settled = { ok: true; result: FrameResult } | { ok: false; error: VisionError };

interface Entry {
  frame: EdgeFrame;
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
  submit(f: EdgeFrame, onSettled: (s: Settled) => void): void {
    const key = `${f.connId}.${++this.seq}`;
    // The edge answers by deadline + margin whatever happens downstream (a lost pub/sub message,
    // a dead worker): a client is never left waiting.
    const timer = setTimeout(
      () => this.fail(key, new VisionError('E_TIMEOUT')),
      f.deadline + this.resultMarginMs - Date.now(),
    );
    this.open.set(key, { frame: f, timer, onSettled });
    const keys = this.byConn.get(f.connId);
    if (keys) keys.add(key);
    else this.byConn.set(f.connId, new Set([key]));
    try {
      this.admit();
    } catch (err) {
      return this.fail(key, err);
    }
    const { image, ...meta } = f;
    this.transport
      .submit({ ...meta, key, edgeId: this.edgeId, bytes: image.length, image })
      .catch((err: unknown) => this.fail(key, err));
  }

  /** An outcome from a worker. Unknown or late keys (already settled) are ignored. */
  onOutcome(m: FrameOutcomeMessage): void {
    const e = this.take(m.key);
    if (!e) return;
    e.onSettled(
      m.ok
        ? { ok: true, result: resultOf(m, e.frame.receivedAt) }
        : { ok: false, error: new VisionError(m.error.code) },
    );
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
    e.onSettled({ ok: false, error: err instanceof VisionError ? err : new VisionError('E_INTERNAL', String(err)) });
  }

  private take(key: string): Entry | undefined {
    const e = this.open.get(key);
    if (!e) return undefined;
    clearTimeout(e.timer);
    this.open.delete(key);
    const keys = this.byConn.get(e.frame.connId);
    keys?.delete(key);
    if (keys?.size === 0) this.byConn.delete(e.frame.connId);
    return e;
  }
}

function resultOf(m: OkOutcome, receivedAt: number): FrameResult {
  return {
    detections: m.detections,
    ...(m.classifications ? { classifications: m.classifications } : {}),
    model: m.model,
    modelVersion: m.modelVersion,
    batchSize: m.batchSize,
    timings: {
      // The worker's pick-up against the edge's receive time: clocks of two hosts, floored at 0.
      queueMs: Math.max(0, m.pickedAt - receivedAt),
      preprocessMs: round(m.preprocessMs),
      inferenceMs: round(m.inferenceMs),
      totalMs: Date.now() - receivedAt,
    },
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
