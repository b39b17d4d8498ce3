import type WebSocket from 'ws';
import { frameTenant, streamAllowed, type Principal } from '@vision/auth';
import { frameCost, TokenBucket } from '@vision/transport';
import {
  ERROR_CODES,
  imageDimensions,
  sniffImageFormat,
  toWireError,
  VisionError,
  type AuthAcceptedMessage,
  type ErrorCode,
  type ModelSelectedMessage,
} from '@vision/wire';
import type { EdgeFrame, Settled } from './frame-ledger';
import type { ReplyFormat } from './reply-format';
import type { SessionHost, SessionLimits } from './session-host';
import { isViolation, ViolationWindow } from './violation-window';

/** Replies queued in user space (beyond the kernel's buffers) before a non-reading peer is dropped. */
const MAX_UNREAD_REPLY_BYTES = 4 * 1024 * 1024;
/** Streams of one connection that may each choose a model (the map is per connection). */
const MAX_STREAM_MODELS = 256;
/** Longest text message: control messages are small JSON objects (an `auth` token fits). */
const MAX_TEXT_BYTES = 4 * 1024;
/** How long a connection closed for a policy reason has to complete the close handshake. */
const CLOSE_GRACE_MS = 1000;

/**
 * One WebSocket connection: per-connection rate limits and violation count, flow control (at most
 * `maxInFlight` frames submitted, plus one waiting slot where the latest frame wins), token expiry,
 * and replies in the connection's protocol (its `ReplyFormat`). Open frames live in the edge's
 * `FrameLedger`. Every accepted frame ends in exactly one of: result, error, or drop.
 */
export class ClientSession {
  private inFlight = 0;
  private waiting: EdgeFrame | undefined;
  private autoFrameId = 0;
  private closed = false;
  private readonly messages: TokenBucket;
  private readonly frames: TokenBucket;
  private readonly violations: ViolationWindow;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Models chosen per stream id (`model` control messages with a `streamId`). */
  private readonly streamModels = new Map<string, string>();
  /** Epoch ms of the last complete message (idle detection; pongs do not count). */
  lastMessageAt = Date.now();

  constructor(
    readonly connId: string,
    readonly format: ReplyFormat,
    private readonly ws: WebSocket,
    private readonly limits: SessionLimits,
    private readonly host: SessionHost,
    public principal: Principal,
    /** The connection's model: frames of streams without their own choice go to it. */
    public model: string,
  ) {
    this.messages = new TokenBucket(limits.messagesPerSecond);
    this.frames = new TokenBucket(limits.framesPerSecond);
    this.violations = new ViolationWindow(limits.violationsBeforeClose);
    this.armExpiry();
  }

  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    const receivedAt = Date.now();
    this.lastMessageAt = receivedAt;
    // Cheapest checks first: a flood costs one bucket lookup per message, then the connection.
    const wait = this.messages.take();
    if (wait > 0)
      return this.sendError(
        undefined,
        undefined,
        new VisionError('E_RATE_LIMITED', 'messages/s', { retryAfterMs: wait }),
        receivedAt,
      );
    if (!isBinary) return this.onText(data, receivedAt);
    let parsed: ReturnType<ReplyFormat['parse']>;
    try {
      parsed = this.format.parse(data);
    } catch (err) {
      return this.sendError(undefined, undefined, err, receivedAt);
    }
    const { header, image } = parsed;
    const frameId = header?.frameId ?? this.nextAutoId();
    const reject = (code: ErrorCode, message?: string, retryAfterMs?: number) =>
      this.sendError(frameId, header?.streamId, new VisionError(code, message, { retryAfterMs }), receivedAt);
    const frameWait = this.frames.take();
    if (frameWait > 0) return reject('E_RATE_LIMITED', 'frames/s', frameWait);
    if (image.length === 0) return reject('E_EMPTY_FRAME');
    if (image.length > this.limits.maxFrameBytes) return reject('E_FRAME_TOO_LARGE');
    if (!sniffImageFormat(image)) return reject('E_UNSUPPORTED_FORMAT');
    if (!streamAllowed(this.principal, header?.streamId))
      return reject('E_FORBIDDEN', `stream ${header?.streamId} not in the token`);

    const frame: EdgeFrame = {
      connId: this.connId,
      frameId,
      tenant: frameTenant(this.principal, header?.streamId),
      model: (header?.streamId !== undefined && this.streamModels.get(header.streamId)) || this.model,
      ...(header?.streamId !== undefined ? { streamId: header.streamId } : {}),
      ...(header?.captureTs !== undefined ? { captureTs: header.captureTs } : {}),
      receivedAt,
      deadline: receivedAt + this.limits.deadlineMs,
      image,
      cost: frameCost(imageDimensions(image), this.limits.costUnitPixels),
    };
    if (this.inFlight < this.limits.maxInFlight) return this.submit(frame);
    // Latest frame wins: the one already waiting is older, so it goes.
    if (this.waiting) this.drop(this.waiting);
    this.waiting = frame;
  }

  /** The socket closed: forget everything; outcomes that still arrive are ignored by the ledger. */
  dispose(): void {
    this.closed = true;
    clearTimeout(this.expiryTimer);
    this.host.ledger.forget(this.connId);
    this.waiting = undefined;
  }

  /**
   * Closes the connection for `code` (its close code from the error table), after telling the client why
   * where the protocol can.
   */
  closeWith(code: ErrorCode): void {
    if (this.closed) return;
    this.host.rejected(code);
    if (this.format.explainsClose) this.send(this.format.error(toWireError(new VisionError(code))));
    this.ws.close(ERROR_CODES[code].close ?? 1008, code);
    this.closed = true;
    // A peer that does not answer the close (it may be mid-message on purpose) loses the socket.
    // The timer goes with the socket: it holds the connection, and with it every byte ws buffered.
    const timer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    timer.unref();
    this.ws.once('close', () => clearTimeout(timer));
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

  private submit(f: EdgeFrame): void {
    this.inFlight++;
    this.host.ledger.submit(f, (s) => this.onSettled(f, s));
  }

  private onSettled(f: EdgeFrame, s: Settled): void {
    this.inFlight--;
    if (this.closed) return;
    if (s.ok) {
      this.send(this.format.result(f, s.result));
      this.host.answered('result', f.receivedAt, f.streamId);
    } else {
      this.sendError(f.frameId, f.streamId, s.error, f.receivedAt);
    }
    this.promoteWaiting();
  }

  private promoteWaiting(): void {
    if (this.closed || !this.waiting || this.inFlight >= this.limits.maxInFlight) return;
    const next = this.waiting;
    this.waiting = undefined;
    if (next.deadline <= Date.now()) {
      this.sendError(next.frameId, next.streamId, new VisionError('E_EXPIRED'), next.receivedAt);
      return this.promoteWaiting();
    }
    this.submit(next);
  }

  private drop(f: EdgeFrame): void {
    const reply = this.format.dropped(f, toWireError(new VisionError('E_DROPPED')));
    if (reply !== undefined) this.send(reply);
    this.host.answered('E_DROPPED', f.receivedAt, f.streamId);
  }

  private onText(data: Buffer, receivedAt: number): void {
    // Refused before any parse: a 16 MB text message must not reach JSON.parse.
    if (data.length > MAX_TEXT_BYTES)
      return this.sendError(undefined, undefined, new VisionError('E_MESSAGE_TOO_LARGE'), receivedAt);
    if (!this.format.controlMessages)
      return this.sendError(
        undefined,
        undefined,
        new VisionError('E_BAD_MESSAGE', 'send images as binary messages'),
        receivedAt,
      );
    let msg: { type?: unknown; ts?: unknown; token?: unknown; model?: unknown; streamId?: unknown } | undefined;
    try {
      const parsed: unknown = JSON.parse(data.toString('utf8'));
      msg = parsed && typeof parsed === 'object' ? parsed : undefined;
    } catch {
      msg = undefined;
    }
    if (msg?.type === 'ping') return this.send({ type: 'pong', ...(typeof msg.ts === 'number' ? { ts: msg.ts } : {}) });
    if (msg?.type === 'hello') return this.send(this.host.hello(this));
    if (msg?.type === 'auth' && typeof msg.token === 'string') return this.refreshToken(msg.token, receivedAt);
    if (
      msg?.type === 'model' &&
      typeof msg.model === 'string' &&
      (msg.streamId === undefined || typeof msg.streamId === 'string')
    ) {
      return this.chooseModel(msg.model, msg.streamId, receivedAt);
    }
    this.sendError(undefined, undefined, new VisionError('E_BAD_MESSAGE', 'unknown control message'), receivedAt);
  }

  private chooseModel(choice: string, streamId: string | undefined, receivedAt: number): void {
    let chosen: { id: string; version: string };
    try {
      if (streamId !== undefined && !streamAllowed(this.principal, streamId))
        throw new VisionError('E_FORBIDDEN', `stream ${streamId} not in the token`);
      if (streamId !== undefined && !this.streamModels.has(streamId) && this.streamModels.size >= MAX_STREAM_MODELS) {
        throw new VisionError(
          'E_BAD_MESSAGE',
          `at most ${MAX_STREAM_MODELS} streams per connection may choose their own model`,
        );
      }
      chosen = this.host.chooseModel(this.principal, choice);
    } catch (err) {
      return this.sendError(undefined, streamId, err, receivedAt);
    }
    if (streamId === undefined) this.model = chosen.id;
    else this.streamModels.set(streamId, chosen.id);
    this.send({
      type: 'model',
      model: chosen.id,
      version: chosen.version,
      ...(streamId !== undefined ? { streamId } : {}),
    } satisfies ModelSelectedMessage);
  }

  private refreshToken(token: string, receivedAt: number): void {
    this.host.reauthenticate(this.principal, token).then(
      (p) => {
        if (this.closed) return;
        this.principal = p;
        this.armExpiry();
        this.send({
          type: 'auth',
          ok: true,
          ...(p.expiresAt ? { tokenExpiresAt: p.expiresAt } : {}),
        } satisfies AuthAcceptedMessage);
      },
      (err: unknown) => this.sendError(undefined, undefined, err, receivedAt),
    );
  }

  /** A token that expires during the session closes it (4401) unless a fresh one arrives first. */
  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    const at = this.principal.expiresAt;
    if (at === undefined) return;
    // setTimeout's limit is ~24.8 days; longer tokens are re-armed when they get closer.
    const ms = Math.min(at + this.limits.clockSkewMs - Date.now(), 2 ** 31 - 1);
    this.expiryTimer = setTimeout(
      () => (Date.now() >= at + this.limits.clockSkewMs ? this.closeWith('E_TOKEN_EXPIRED') : this.armExpiry()),
      Math.max(0, ms),
    );
    this.expiryTimer.unref();
  }

  private sendError(frameId: number | undefined, streamId: string | undefined, err: unknown, receivedAt: number): void {
    const error = toWireError(err);
    if (frameId !== undefined) this.host.answered(error.code, receivedAt, streamId);
    this.send(this.format.error(error, frameId, streamId));
    if (isViolation(error.code)) {
      this.host.rejected(error.code);
      if (this.violations.record(receivedAt)) this.closeWith('E_POLICY_VIOLATION');
    }
  }

  private nextAutoId(): number {
    this.autoFrameId = (this.autoFrameId + 1) >>> 0;
    return this.autoFrameId;
  }
}
