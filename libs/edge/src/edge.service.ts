import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type WebSocket from 'ws';
import {
  PROTOCOL_V1,
  VisionError,
  type ErrorCode,
  type FrameOutcomeMessage,
  type GoAwayMessage,
  type HelloMessage,
} from '@vision/protocol';

const DRAIN_LINGER_MS = 250;
const CLOSE_HANDSHAKE_MS = 2000;
import { ClientSession, type SessionHost, type WireProtocol } from './client-session';
import { EDGE_CONTEXT, type EdgeContext } from './edge-context';
import { HttpFrames } from './http-frames';

/**
 * Routes frames from sessions to the queue and outcomes back to sessions. Holds nothing another
 * edge would need: a session lives and dies with its socket.
 */
@Injectable()
export class EdgeService implements SessionHost, OnModuleDestroy {
  private readonly sessions = new Map<string, ClientSession>();
  private readonly sockets = new Map<string, WebSocket>();
  private readonly instance = randomBytes(3).toString('hex');
  private connSeq = 0;
  private draining = false;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly alive = new WeakSet<WebSocket>();

  /** Frames posted to `POST /v1/detect`. */
  readonly http: HttpFrames;

  constructor(@Inject(EDGE_CONTEXT) private readonly ctx: EdgeContext) {
    this.http = new HttpFrames(`${this.instance}-http`, ctx.config.frames, async (f) => {
      if (this.draining) throw new VisionError('E_SHUTTING_DOWN');
      await this.ctx.transport.submit({ ...f, edgeId: this.edgeId, connId: this.http.connId });
    });
  }

  get edgeId(): string {
    return this.ctx.config.edgeId;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Subscribes to this edge's outcomes and starts the keep-alive sweep. */
  async start(): Promise<void> {
    await this.ctx.transport.start(this.edgeId, (m) => this.onOutcome(m));
    this.pingTimer = setInterval(() => this.sweep(), this.ctx.config.frames.pingIntervalMs);
    this.pingTimer.unref();
  }

  attach(ws: WebSocket, _req: IncomingMessage): void {
    if (this.draining) {
      ws.close(1001, 'draining');
      return;
    }
    const protocol: WireProtocol = ws.protocol === PROTOCOL_V1 ? 'yolo.v1' : 'seed';
    const connId = `${this.instance}${(++this.connSeq).toString(36)}`;
    const f = this.ctx.config.frames;
    const session = new ClientSession(connId, protocol, ws, {
      maxInFlight: f.maxInFlight,
      maxFrameBytes: f.maxFrameBytes,
      deadlineMs: f.deadlineMs,
      resultMarginMs: f.resultMarginMs,
    }, this);
    this.sessions.set(connId, session);
    this.sockets.set(connId, ws);
    this.alive.add(ws);
    this.ctx.metrics.edgeConnections.inc();
    ws.on('pong', () => this.alive.add(ws));
    ws.on('message', (data: Buffer, isBinary: boolean) => session.onMessage(data, isBinary));
    ws.on('close', () => {
      session.dispose();
      this.sessions.delete(connId);
      this.sockets.delete(connId);
      this.ctx.metrics.edgeConnections.dec();
    });
    if (protocol === 'yolo.v1') session.send(this.hello());
  }

  async submit(
    session: ClientSession,
    f: { key: string; frameId: number; receivedAt: number; deadline: number; image: Buffer },
  ): Promise<void> {
    // Frames that arrive while draining would only extend the drain: send them elsewhere.
    if (this.draining) throw new VisionError('E_SHUTTING_DOWN');
    await this.ctx.transport.submit({ ...f, edgeId: this.edgeId, connId: session.connId });
  }

  answered(outcome: 'result' | ErrorCode, receivedAt: number): void {
    this.ctx.metrics.edgeFrames.inc({ outcome });
    if (outcome === 'result') this.ctx.metrics.edgeLatency.observe((Date.now() - receivedAt) / 1000);
  }

  control(_session: ClientSession, msg: unknown): object | undefined {
    // ClientControl (libs/protocol) lists these messages; anything else is answered E_BAD_MESSAGE.
    const m = (msg ?? {}) as { type?: unknown; ts?: unknown };
    if (m.type === 'ping') return { type: 'pong', ...(typeof m.ts === 'number' ? { ts: m.ts } : {}) };
    if (m.type === 'hello') return this.hello();
    return undefined;
  }

  /** Every open frame's fate became unknown (the queue connection dropped): answer them now. */
  failAllOpen(code: ErrorCode, message: string): void {
    for (const s of this.sessions.values()) s.failOpen(code, message);
    this.http.failOpen(code, message);
  }

  openFrames(): number {
    let n = this.http.size;
    for (const s of this.sessions.values()) n += s.inFlight;
    return n;
  }

  /**
   * SIGTERM: refuse new connections, let open frames finish for up to `graceMs`, then close every
   * socket with 1001 (going away) so clients reconnect to another edge.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    const started = Date.now();
    const until = started + graceMs;
    for (const s of this.sessions.values()) if (s.protocol === 'yolo.v1') s.send({ type: 'goaway' } satisfies GoAwayMessage);
    // Linger briefly even when idle, so frames already on the wire get E_SHUTTING_DOWN rather than
    // vanishing with the socket.
    const linger = Math.min(DRAIN_LINGER_MS, graceMs);
    while ((this.openFrames() > 0 || Date.now() - started < linger) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    this.failAllOpen('E_SHUTTING_DOWN', 'the edge is shutting down');
    // Wait for the close handshakes: tearing the server down now would terminate the sockets and
    // could discard the last replies still in their send buffers.
    const closing = [...this.sockets.values()].map(
      (ws) => new Promise<void>((resolve) => (ws.readyState === ws.CLOSED ? resolve() : ws.once('close', () => resolve()))),
    );
    for (const ws of this.sockets.values()) ws.close(1001, 'server going away');
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, CLOSE_HANDSHAKE_MS))]);
  }

  onModuleDestroy(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
  }

  private onOutcome(m: FrameOutcomeMessage): void {
    if (m.connId === this.http.connId) return this.http.onOutcome(m);
    // A connection that has gone away simply has no session: the outcome is dropped quietly.
    this.sessions.get(m.connId)?.onOutcome(m);
  }

  /** Terminates peers that missed the previous ping's pong, pings the rest. */
  private sweep(): void {
    for (const ws of this.sockets.values()) {
      if (!this.alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }

  private hello(): HelloMessage {
    const f = this.ctx.config.frames;
    return {
      type: 'hello',
      protocol: PROTOCOL_V1,
      edgeId: this.edgeId,
      limits: { maxInFlight: f.maxInFlight, maxFrameBytes: f.maxFrameBytes, deadlineMs: f.deadlineMs },
    };
  }
}
