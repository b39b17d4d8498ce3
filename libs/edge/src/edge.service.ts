import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type WebSocket from 'ws';
import type { Principal } from '@vision/auth';
import { TIMINGS } from '@vision/config';
import { PROTOCOL_V1, VisionError, type ErrorCode, type HelloMessage } from '@vision/wire';
import { ClientSession } from './client-session';
import type { SessionHost } from './session-host';
import { ConnectionRegistry } from './connection-registry';
import { EDGE_CONTEXT, type EdgeContext } from './edge-context';
import { FrameLedger } from './frame-ledger';
import { MessageWatch } from './message-watch';
import { replyFormat } from './reply-format';
import { Gatekeeper, type Admission } from './security/gatekeeper';

/** A drain lingers at least this long (within the grace), so frames already on the wire get an answer. */
const DRAIN_LINGER_MS = 250;
/** How long a stop waits for the clients' close handshakes before tearing the sockets down. */
const CLOSE_HANDSHAKE_MS = 2000;

/** Whether the edge is draining: frames that arrive now would only extend the drain. */
@Injectable()
export class DrainState {
  draining = false;
}

/**
 * Nest providers of the edge's shared parts, built from the context: the gatekeeper (every
 * admission) and the frame ledger (every open frame), so controllers and the service share one of each.
 */
export const edgeProviders = [
  DrainState,
  {
    provide: Gatekeeper,
    inject: [EDGE_CONTEXT],
    useFactory: (ctx: EdgeContext) =>
      new Gatekeeper(
        {
          auth: ctx.config.auth,
          limits: ctx.config.limits,
          verifier: ctx.verifier,
          revocations: ctx.revocations,
          leases: ctx.leases,
          metrics: ctx.metrics,
          log: ctx.log,
          warn: ctx.warn,
        },
        randomBytes(3).toString('hex'),
      ),
  },
  {
    provide: FrameLedger,
    inject: [EDGE_CONTEXT, DrainState],
    useFactory: (ctx: EdgeContext, drain: DrainState) =>
      new FrameLedger(ctx.config.edgeId, ctx.config.frames.resultMarginMs, ctx.transport, () => {
        if (drain.draining) throw new VisionError('E_SHUTTING_DOWN');
      }),
  },
];

/**
 * The hub of the WebSocket path: admits upgrades through the gate, builds a session per socket,
 * routes frames to the ledger and outcomes back, and drains on shutdown. Connection life (pings,
 * timeouts, the unfinished-message budget) is the registry's. Holds nothing another edge would
 * need: a session lives and dies with its socket.
 */
@Injectable()
export class EdgeService implements SessionHost, OnModuleDestroy {
  private readonly admissions = new WeakMap<IncomingMessage, Admission>();
  private readonly upgradeModels = new WeakMap<IncomingMessage, string>();
  private httpSeq = 0;
  private revocationTimer: NodeJS.Timeout | undefined;
  readonly registry: ConnectionRegistry;

  constructor(
    @Inject(EDGE_CONTEXT) private readonly ctx: EdgeContext,
    readonly gate: Gatekeeper,
    /** Every open frame, WebSocket and HTTP alike. */
    readonly ledger: FrameLedger,
    private readonly drainState: DrainState,
  ) {
    const { frames, limits } = ctx.config;
    this.registry = new ConnectionRegistry({
      pingIntervalMs: frames.pingIntervalMs,
      idleTimeoutMs: limits.idleTimeoutMs,
      messageTimeoutMs: limits.messageTimeoutMs,
      maxUnfinishedBytes: limits.maxUnfinishedBytes,
      onHold: (_c, held) =>
        ctx.warn(
          'unfinished-budget',
          { held, budget: limits.maxUnfinishedBytes },
          'MAX_UNFINISHED_BYTES: a connection holding more than its share of unfinished bytes waits for room',
        ),
    });
  }

  get edgeId(): string {
    return this.ctx.config.edgeId;
  }

  get isDraining(): boolean {
    return this.drainState.draining;
  }

  /** Subscribes to this edge's outcomes and starts the connection sweeps and the revocation watch. */
  async start(): Promise<void> {
    await this.ctx.transport.start(this.edgeId, (m) => this.ledger.onOutcome(m));
    this.registry.start();
    let cursor = Date.now();
    let checking = false;
    this.revocationTimer = setInterval(() => {
      if (checking) return;
      checking = true;
      this.ctx.revocations
        .revokedSince(cursor)
        .then((r) => {
          cursor = r.cursor;
          if (r.tokenIds.length === 0) return;
          const ids = new Set(r.tokenIds);
          this.registry.closeWhere(
            (c) => c.session.principal.tokenId !== undefined && ids.has(c.session.principal.tokenId),
            'E_TOKEN_REVOKED',
          );
        })
        .catch(() => undefined) // the outage is logged by the connection's own watcher; the next tick retries
        .finally(() => (checking = false));
    }, TIMINGS.revocationCheckMs);
    this.revocationTimer.unref();
  }

  /** The upgrade hook: rejects (with a VisionError whose HTTP status applies) or admits the connection. */
  async admitUpgrade(req: IncomingMessage): Promise<void> {
    if (this.drainState.draining) throw this.gate.refused(new VisionError('E_SHUTTING_DOWN'));
    const admission = await this.gate.admitUpgrade(req, this.registry.size);
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
      if (!this.registry.has(admission.lease.connId)) this.gate.release(admission);
    });
  }

  attach(ws: WebSocket, req: IncomingMessage): void {
    const admission = this.admissions.get(req);
    if (!admission || this.drainState.draining) {
      ws.close(1001, 'draining');
      return;
    }
    const connId = admission.lease.connId;
    const { frames: f, limits: l, auth } = this.ctx.config;
    const session = new ClientSession(
      connId,
      replyFormat(ws.protocol),
      ws,
      {
        maxInFlight: f.maxInFlight,
        maxFrameBytes: f.maxFrameBytes,
        deadlineMs: f.deadlineMs,
        messagesPerSecond: l.messagesPerSecond,
        framesPerSecond: l.framesPerSecond,
        violationsBeforeClose: l.violationsBeforeClose,
        clockSkewMs: auth.clockSkewS * 1000,
        costUnitPixels: l.costUnitPixels,
      },
      this,
      admission.principal,
      this.upgradeModels.get(req) ?? this.ctx.catalog.defaultId,
    );
    const watch = new MessageWatch(ws, req.socket, (w) => this.registry.onChunk(connId, w));
    this.registry.add(connId, { ws, socket: req.socket, session, admission, watch });
    this.gate.limitReads(req.socket, admission);
    this.ctx.metrics.edgeConnections.inc();
    ws.on('message', (data: Buffer, isBinary: boolean) => session.onMessage(data, isBinary));
    ws.on('close', () => {
      session.dispose();
      this.registry.remove(connId);
      this.gate.release(admission);
      this.ctx.metrics.edgeConnections.dec();
    });
    if (session.format.protocol === 'yolo.v1') session.send(this.hello(session));
  }

  /** A connection id for one HTTP request's frame. */
  nextHttpConnId(): string {
    // The gatekeeper's instance prefix: one per edge, so WebSocket and HTTP ids never collide.
    return `${this.gate.instance}-h${(++this.httpSeq).toString(36)}`;
  }

  answered(outcome: 'result' | ErrorCode, receivedAt: number, streamId?: string): void {
    const m = this.ctx.metrics;
    m.edgeFrames.inc({ outcome });
    if (outcome === 'result') m.edgeLatency.observe((Date.now() - receivedAt) / 1000);
    if (streamId !== undefined)
      m.streamFrame(
        streamId,
        outcome === 'result' ? 'result' : outcome === 'E_DROPPED' || outcome === 'E_EXPIRED' ? 'skipped' : 'error',
      );
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

  /** The queue connection dropped: every open frame's result is lost, so answer them now. */
  failAllOpen(): void {
    this.ledger.failOpen('E_QUEUE_LOST', 'lost the queue connection; retry the frame');
  }

  /**
   * SIGTERM: refuse new connections, let open frames finish for up to `graceMs`, then close every
   * socket with 1001 (going away) so clients reconnect to another edge.
   */
  async drain(graceMs: number): Promise<void> {
    this.drainState.draining = true;
    const started = Date.now();
    const until = started + graceMs;
    for (const c of this.registry.values()) if (c.session.format.goaway) c.session.send(c.session.format.goaway);
    // Linger briefly even when idle, so frames already on the wire get E_SHUTTING_DOWN rather than
    // vanishing with the socket.
    const linger = Math.min(DRAIN_LINGER_MS, graceMs);
    while ((this.ledger.size > 0 || Date.now() - started < linger) && Date.now() < until) {
      await sleep(20);
    }
    this.ledger.failOpen('E_SHUTTING_DOWN', 'the edge is shutting down');
    // Wait for the close handshakes: tearing the server down now would terminate the sockets and
    // could discard the last replies still in their send buffers.
    const sockets = [...this.registry.values()].map((c) => c.ws);
    const closing = sockets.map(
      (ws) =>
        new Promise<void>((resolve) => (ws.readyState === ws.CLOSED ? resolve() : ws.once('close', () => resolve()))),
    );
    for (const ws of sockets) ws.close(1001, 'server going away');
    await Promise.race([Promise.all(closing), sleep(CLOSE_HANDSHAKE_MS)]);
  }

  onModuleDestroy(): void {
    this.registry.stop();
    clearInterval(this.revocationTimer);
  }
}
