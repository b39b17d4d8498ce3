import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type WebSocket from 'ws';
import { PROTOCOL_V1, VisionError, type ErrorCode, type FrameOutcomeMessage, type GoAwayMessage, type HelloMessage } from '@vision/protocol';
import { ClientSession, type SessionHost, type WireProtocol } from './client-session';
import { EDGE_CONTEXT, type EdgeContext } from './edge-context';
import { FrameLedger } from './frame-ledger';
import { MessageWatch } from './message-watch';
import { Gatekeeper, type Admission } from './security/gatekeeper';
import type { Principal } from '@vision/auth';

const DRAIN_LINGER_MS = 250;
const CLOSE_HANDSHAKE_MS = 2000;
/** How often idle connections and unfinished messages are looked for. */
const GUARD_INTERVAL_MS = 1000;

interface Connection {
  ws: WebSocket;
  session: ClientSession;
  admission: Admission;
  watch: MessageWatch;
}

/**
 * Routes frames from sessions to the queue and outcomes back to sessions. Holds nothing another
 * edge would need: a session lives and dies with its socket.
 */
@Injectable()
export class EdgeService implements SessionHost, OnModuleDestroy {
  private readonly connections = new Map<string, Connection>();
  private readonly admissions = new WeakMap<IncomingMessage, Admission>();
  private readonly upgradeModels = new WeakMap<IncomingMessage, string>();
  private readonly instance = randomBytes(3).toString('hex');
  private draining = false;
  private pingTimer: NodeJS.Timeout | undefined;
  private guardTimer: NodeJS.Timeout | undefined;
  private readonly alive = new WeakSet<WebSocket>();
  private httpSeq = 0;

  /** Every open frame, WebSocket and HTTP alike. */
  readonly ledger: FrameLedger;
  readonly gate: Gatekeeper;

  constructor(@Inject(EDGE_CONTEXT) private readonly ctx: EdgeContext) {
    this.ledger = new FrameLedger(ctx.config.edgeId, ctx.config.frames.resultMarginMs, ctx.transport, () => {
      // Frames that arrive while draining would only extend the drain: send them elsewhere.
      if (this.draining) throw new VisionError('E_SHUTTING_DOWN');
    });
    this.gate = new Gatekeeper(
      {
        auth: ctx.config.auth,
        limits: ctx.config.limits,
        verifier: ctx.verifier,
        leases: ctx.leases,
        metrics: ctx.metrics,
        log: ctx.log,
        connections: () => this.connections.size,
      },
      this.instance,
    );
  }

  get edgeId(): string {
    return this.ctx.config.edgeId;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Subscribes to this edge's outcomes and starts the keep-alive and guard sweeps. */
  async start(): Promise<void> {
    await this.ctx.transport.start(this.edgeId, (m) => this.onOutcome(m));
    this.pingTimer = setInterval(() => this.sweep(), this.ctx.config.frames.pingIntervalMs);
    this.pingTimer.unref();
    this.guardTimer = setInterval(() => this.guard(), GUARD_INTERVAL_MS);
    this.guardTimer.unref();
  }

  /** The upgrade hook: rejects (with a VisionError whose HTTP status applies) or admits the connection. */
  async admitUpgrade(req: IncomingMessage): Promise<void> {
    if (this.draining) throw this.gate.refused(new VisionError('E_SHUTTING_DOWN'));
    const admission = await this.gate.admitUpgrade(req);
    try {
      // `?model=` is checked before the socket exists: an unknown model never gets a connection.
      const choice = new URL(req.url ?? '/', 'http://edge').searchParams.get('model');
      this.upgradeModels.set(req, this.ctx.catalog.resolve(choice, admission.principal));
    } catch (err) {
      this.gate.release(admission);
      throw this.gate.refused(err);
    }
    this.admissions.set(req, admission);
    // If the upgrade never completes (the peer vanished), give the slot back.
    req.socket.once('close', () => {
      if (!this.connections.has(admission.lease.connId)) this.gate.release(admission);
    });
  }

  attach(ws: WebSocket, req: IncomingMessage): void {
    const admission = this.admissions.get(req);
    if (!admission || this.draining) {
      ws.close(1001, 'draining');
      return;
    }
    const protocol: WireProtocol = ws.protocol === PROTOCOL_V1 ? 'yolo.v1' : 'seed';
    const connId = admission.lease.connId;
    const { frames: f, limits: l, auth } = this.ctx.config;
    const session = new ClientSession(
      connId,
      protocol,
      ws,
      {
        maxInFlight: f.maxInFlight,
        maxFrameBytes: f.maxFrameBytes,
        deadlineMs: f.deadlineMs,
        messagesPerSecond: l.messagesPerSecond,
        framesPerSecond: l.framesPerSecond,
        violationsBeforeClose: l.violationsBeforeClose,
        clockSkewMs: auth.clockSkewS * 1000,
      },
      this,
      admission.principal,
      this.upgradeModels.get(req) ?? this.ctx.catalog.defaultId,
    );
    this.connections.set(connId, { ws, session, admission, watch: new MessageWatch(ws, req.socket) });
    this.gate.limitReads(req.socket, admission);
    this.alive.add(ws);
    this.ctx.metrics.edgeConnections.inc();
    ws.on('pong', () => this.alive.add(ws));
    ws.on('message', (data: Buffer, isBinary: boolean) => session.onMessage(data, isBinary));
    ws.on('close', () => {
      session.dispose();
      this.connections.delete(connId);
      this.gate.release(admission);
      this.ctx.metrics.edgeConnections.dec();
    });
    if (protocol === 'yolo.v1') session.send(this.hello(session));
  }

  /** A connection id for one HTTP request's frame. */
  nextHttpConnId(): string {
    return `${this.instance}-h${(++this.httpSeq).toString(36)}`;
  }

  answered(outcome: 'result' | ErrorCode, receivedAt: number, streamId?: string): void {
    const m = this.ctx.metrics;
    m.edgeFrames.inc({ outcome });
    if (outcome === 'result') m.edgeLatency.observe((Date.now() - receivedAt) / 1000);
    if (streamId !== undefined) m.streamFrame(streamId, outcome === 'result' ? 'result' : outcome === 'E_DROPPED' || outcome === 'E_EXPIRED' ? 'skipped' : 'error');
  }

  rejected(code: ErrorCode): void {
    this.gate.count(code);
  }

  reauthenticate(current: Principal, token: string): Promise<Principal> {
    return this.gate.reauthenticate(current, token);
  }

  hello(session: ClientSession): HelloMessage {
    const { frames: f, limits: l } = this.ctx.config;
    return {
      type: 'hello',
      protocol: PROTOCOL_V1,
      edgeId: this.edgeId,
      model: session.model,
      limits: {
        maxInFlight: f.maxInFlight,
        maxFrameBytes: f.maxFrameBytes,
        deadlineMs: f.deadlineMs,
        framesPerSecond: l.framesPerSecond,
        messagesPerSecond: l.messagesPerSecond,
      },
      ...(session.principal.expiresAt !== undefined ? { tokenExpiresAt: session.principal.expiresAt } : {}),
    };
  }

  /** The model a client chose (none: the default), checked against the catalog and its token. */
  chooseModel(principal: Principal, choice: string): { id: string; version: string } {
    const id = this.ctx.catalog.resolve(choice, principal);
    return { id, version: this.ctx.catalog.version(id) ?? '' };
  }

  /** Every open frame's fate became unknown (the queue connection dropped): answer them now. */
  failAllOpen(code: ErrorCode, message: string): void {
    this.ledger.failOpen(code, message);
  }

  /**
   * SIGTERM: refuse new connections, let open frames finish for up to `graceMs`, then close every
   * socket with 1001 (going away) so clients reconnect to another edge.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    const started = Date.now();
    const until = started + graceMs;
    for (const c of this.connections.values()) if (c.session.protocol === 'yolo.v1') c.session.send({ type: 'goaway' } satisfies GoAwayMessage);
    // Linger briefly even when idle, so frames already on the wire get E_SHUTTING_DOWN rather than
    // vanishing with the socket.
    const linger = Math.min(DRAIN_LINGER_MS, graceMs);
    while ((this.ledger.size > 0 || Date.now() - started < linger) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    this.failAllOpen('E_SHUTTING_DOWN', 'the edge is shutting down');
    // Wait for the close handshakes: tearing the server down now would terminate the sockets and
    // could discard the last replies still in their send buffers.
    const sockets = [...this.connections.values()].map((c) => c.ws);
    const closing = sockets.map(
      (ws) => new Promise<void>((resolve) => (ws.readyState === ws.CLOSED ? resolve() : ws.once('close', () => resolve()))),
    );
    for (const ws of sockets) ws.close(1001, 'server going away');
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, CLOSE_HANDSHAKE_MS))]);
  }

  onModuleDestroy(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.guardTimer) clearInterval(this.guardTimer);
  }

  private onOutcome(m: FrameOutcomeMessage): void {
    // A connection that has gone away has no open frames in the ledger: the outcome is dropped quietly.
    this.ledger.onOutcome(m);
  }

  /** Terminates peers that missed the previous ping's pong, pings the rest. */
  private sweep(): void {
    for (const { ws } of this.connections.values()) {
      if (!this.alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }

  /** Closes connections that sent nothing for too long, and those holding a message open too long. */
  private guard(): void {
    const now = Date.now();
    const { idleTimeoutMs, messageTimeoutMs } = this.ctx.config.limits;
    for (const { session, watch } of this.connections.values()) {
      const since = watch.partialSince;
      if (since !== undefined && now - since > messageTimeoutMs) session.closeWith('E_MESSAGE_TIMEOUT');
      else if (since === undefined && now - session.lastMessageAt > idleTimeoutMs) session.closeWith('E_IDLE_TIMEOUT');
    }
  }
}
