import type WebSocket from 'ws';
import {
  parseFrame,
  sniffImageFormat,
  toWireError,
  VisionError,
  type ErrorCode,
  type ErrorReply,
  type FrameHeader,
  type FrameOutcomeMessage,
  type ResultReply,
} from '@vision/protocol';

export type WireProtocol = 'seed' | 'yolo.v1';

/** Replies queued in user space (beyond the kernel's buffers) before a non-reading peer is dropped. */
const MAX_UNREAD_REPLY_BYTES = 4 * 1024 * 1024;

/** A frame the client sent and has not been answered yet. */
interface OpenFrame {
  key: string;
  frameId: number;
  streamId?: string;
  captureTs?: number;
  receivedAt: number;
  deadline: number;
  image: Buffer;
  timer?: NodeJS.Timeout;
}

export interface SessionLimits {
  maxInFlight: number;
  maxFrameBytes: number;
  deadlineMs: number;
  resultMarginMs: number;
}

/** How a session reaches the rest of the edge. */
export interface SessionHost {
  submit(session: ClientSession, frame: { key: string; frameId: number; receivedAt: number; deadline: number; image: Buffer }): Promise<void>;
  /** Called once per frame with its terminal outcome, for metrics. */
  answered(outcome: 'result' | ErrorCode, receivedAt: number): void;
  control(session: ClientSession, msg: unknown): object | undefined;
}

/**
 * One WebSocket connection's frames: admission (at most `maxInFlight` submitted, plus one waiting
 * slot where the latest frame wins), a deadline timer per submitted frame, and replies in the
 * connection's protocol. Every accepted frame ends in exactly one of: result, error, or (v1 only
 * reported) drop.
 */
export class ClientSession {
  private readonly open = new Map<string, OpenFrame>();
  private waiting: OpenFrame | undefined;
  private seq = 0;
  private autoFrameId = 0;
  private closed = false;

  constructor(
    readonly connId: string,
    readonly protocol: WireProtocol,
    private readonly ws: WebSocket,
    private readonly limits: SessionLimits,
    private readonly host: SessionHost,
  ) {}

  get inFlight(): number {
    return this.open.size + (this.waiting ? 1 : 0);
  }

  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    if (!isBinary) return this.onText(data.toString('utf8'));
    const receivedAt = Date.now();
    let header: FrameHeader | undefined;
    let image: Buffer;
    try {
      if (this.protocol === 'yolo.v1') {
        const parsed = parseFrame(data);
        header = parsed.header;
        image = parsed.image as Buffer;
      } else {
        image = data;
      }
    } catch (err) {
      return this.sendError(undefined, undefined, err, receivedAt);
    }
    const frameId = header?.frameId ?? this.nextAutoId();
    const reject = (code: ErrorCode, message?: string) =>
      this.sendError(frameId, header?.streamId, new VisionError(code, message), receivedAt);
    if (image.length === 0) return reject('E_EMPTY_FRAME');
    if (image.length > this.limits.maxFrameBytes) {
      return reject('E_FRAME_TOO_LARGE', `the frame is ${image.length} bytes; the limit is ${this.limits.maxFrameBytes}`);
    }
    if (!sniffImageFormat(image)) return reject('E_UNSUPPORTED_FORMAT');

    const frame: OpenFrame = {
      key: `${this.connId}.${++this.seq}`,
      frameId,
      ...(header?.streamId !== undefined ? { streamId: header.streamId } : {}),
      ...(header?.captureTs !== undefined ? { captureTs: header.captureTs } : {}),
      receivedAt,
      deadline: receivedAt + this.limits.deadlineMs,
      image,
    };
    if (this.open.size < this.limits.maxInFlight) return this.submit(frame);
    // Latest frame wins: the one already waiting is older, so it goes.
    if (this.waiting) this.drop(this.waiting);
    this.waiting = frame;
  }

  /** An outcome from a worker for one of this session's frames. Unknown or late keys are ignored. */
  onOutcome(m: FrameOutcomeMessage): void {
    const f = this.open.get(m.key);
    if (!f) return;
    this.settle(f);
    if (m.ok) {
      const now = Date.now();
      const reply: ResultReply = {
        type: 'result',
        frameId: f.frameId,
        ...(f.streamId !== undefined ? { streamId: f.streamId } : {}),
        ...(f.captureTs !== undefined ? { captureTs: f.captureTs } : {}),
        detections: m.detections,
        model: m.model,
        batchSize: m.batchSize,
        timings: {
          queueMs: Math.max(0, m.pickedAt - f.receivedAt),
          preprocessMs: round(m.preprocessMs),
          inferenceMs: round(m.inferenceMs),
          totalMs: now - f.receivedAt,
        },
      };
      this.send(this.protocol === 'yolo.v1' ? reply : m.detections);
      this.host.answered('result', f.receivedAt);
    } else {
      this.sendError(f.frameId, f.streamId, new VisionError(m.error.code, m.error.message), f.receivedAt);
    }
    this.promoteWaiting();
  }

  /** Answers every open frame with `code` (e.g. the queue connection was lost, their fate is unknown). */
  failOpen(code: ErrorCode, message?: string): void {
    for (const f of [...this.open.values()]) {
      this.settle(f);
      this.sendError(f.frameId, f.streamId, new VisionError(code, message), f.receivedAt);
    }
    this.promoteWaiting();
  }

  /** The socket closed: forget everything; outcomes that still arrive are dropped by the edge. */
  dispose(): void {
    this.closed = true;
    for (const f of this.open.values()) clearTimeout(f.timer);
    this.open.clear();
    this.waiting = undefined;
  }

  send(msg: unknown): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    // A peer that sends frames but never reads replies would grow this buffer without bound once
    // the kernel's socket buffers are full: cut it off instead.
    if (this.ws.bufferedAmount > MAX_UNREAD_REPLY_BYTES) {
      this.ws.terminate();
      return;
    }
    this.ws.send(JSON.stringify(msg));
  }

  private submit(f: OpenFrame): void {
    this.open.set(f.key, f);
    // The edge answers by deadline + margin whatever happens downstream (a lost pub/sub message,
    // a dead worker): a client is never left waiting.
    f.timer = setTimeout(() => {
      if (!this.open.has(f.key)) return;
      this.settle(f);
      this.sendError(f.frameId, f.streamId, new VisionError('E_TIMEOUT'), f.receivedAt);
      this.promoteWaiting();
    }, f.deadline + this.limits.resultMarginMs - Date.now());
    this.host
      .submit(this, { key: f.key, frameId: f.frameId, receivedAt: f.receivedAt, deadline: f.deadline, image: f.image })
      .catch((err: unknown) => {
        if (!this.open.has(f.key)) return;
        this.settle(f);
        this.sendError(f.frameId, f.streamId, err, f.receivedAt);
        this.promoteWaiting();
      });
  }

  private settle(f: OpenFrame): void {
    clearTimeout(f.timer);
    this.open.delete(f.key);
  }

  private promoteWaiting(): void {
    if (this.closed || !this.waiting || this.open.size >= this.limits.maxInFlight) return;
    const next = this.waiting;
    this.waiting = undefined;
    if (next.deadline <= Date.now()) {
      this.sendError(next.frameId, next.streamId, new VisionError('E_EXPIRED'), next.receivedAt);
      return this.promoteWaiting();
    }
    this.submit(next);
  }

  private drop(f: OpenFrame): void {
    // The seed protocol has no way to say "dropped": the frame simply gets no reply.
    if (this.protocol === 'yolo.v1') this.sendError(f.frameId, f.streamId, new VisionError('E_DROPPED'), f.receivedAt);
    else this.host.answered('E_DROPPED', f.receivedAt);
  }

  private onText(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      msg = undefined;
    }
    const reply = this.protocol === 'yolo.v1' && msg !== undefined ? this.host.control(this, msg) : undefined;
    if (reply) return this.send(reply);
    const error = new VisionError(
      'E_BAD_MESSAGE',
      this.protocol === 'yolo.v1' ? 'unknown control message' : 'send images as binary messages',
    );
    this.send(this.protocol === 'yolo.v1' ? ({ type: 'error', error: error.toJSON() } satisfies ErrorReply) : { error: error.toJSON() });
  }

  private sendError(frameId: number | undefined, streamId: string | undefined, err: unknown, receivedAt: number): void {
    const error = toWireError(err);
    this.host.answered(error.code, receivedAt);
    if (this.protocol === 'yolo.v1') {
      const reply: ErrorReply = {
        type: 'error',
        ...(frameId !== undefined ? { frameId } : {}),
        ...(streamId !== undefined ? { streamId } : {}),
        error,
      };
      this.send(reply);
    } else {
      this.send({ error });
    }
  }

  private nextAutoId(): number {
    this.autoFrameId = (this.autoFrameId + 1) >>> 0;
    return this.autoFrameId;
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
