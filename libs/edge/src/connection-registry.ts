import type { Socket } from 'node:net';
import type WebSocket from 'ws';
import type { ErrorCode } from '@vision/wire';
import type { ClientSession } from './client-session';
import type { MessageWatch } from './message-watch';
import { holdReads, releaseReads } from './read-limiter';
import type { Admission } from './security/gatekeeper';

/** How often idle connections and unfinished messages are looked for. */
const GUARD_INTERVAL_MS = 1000;

export interface Connection {
  ws: WebSocket;
  socket: Socket;
  session: ClientSession;
  admission: Admission;
  watch: MessageWatch;
}

export interface RegistryOptions {
  pingIntervalMs: number;
  idleTimeoutMs: number;
  messageTimeoutMs: number;
  /** Bytes all connections together may hold in messages not yet complete. */
  maxUnfinishedBytes: number;
  /** A connection stopped reading because the unfinished-message budget was full (a throttled log). */
  onHold: (conn: Connection, heldBytes: number) => void;
}

/**
 * The edge's open sockets and the rules about their life: keep-alive pings (a peer that missed the
 * previous pong is terminated), the idle and unfinished-message timeouts, and one edge-wide bound
 * on the bytes held in unfinished messages (`maxUnfinishedBytes`).
 *
 * Once half the bound is in use, a connection holding more than its share of that half (the half
 * divided by the connections holding unfinished bytes) stops reading until there is room; the
 * kernel keeps the rest and the sender feels TCP backpressure. Those below their share keep going,
 * so the total stays within the bound: at most half held by connections over their share when they
 * were stopped, and at most half by the rest. A peer that stalls mid-message holds a large message
 * for a long time and is the one stopped (and reaped at `messageTimeoutMs`); a camera's frame is
 * small and arrives at once, so it keeps flowing. Nothing is dropped to make room: a dropped
 * attacker reconnects and sends again, and every byte read and discarded is memory waiting for the
 * garbage collector.
 */
export class ConnectionRegistry {
  private readonly connections = new Map<string, Connection>();
  private readonly alive = new WeakSet<WebSocket>();
  private readonly held = new Map<string, number>();
  private heldTotal = 0;
  /** Connections whose reads wait for room in the budget, oldest first. */
  private readonly waiting = new Set<string>();
  private pingTimer: NodeJS.Timeout | undefined;
  private guardTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RegistryOptions) {}

  get size(): number {
    return this.connections.size;
  }

  /** Bytes held in unfinished messages right now (the budget's gauge). */
  get unfinishedBytes(): number {
    return this.heldTotal;
  }

  start(): void {
    this.pingTimer = setInterval(() => this.sweep(), this.opts.pingIntervalMs);
    this.pingTimer.unref();
    this.guardTimer = setInterval(() => this.guard(), GUARD_INTERVAL_MS);
    this.guardTimer.unref();
  }

  stop(): void {
    clearInterval(this.pingTimer);
    clearInterval(this.guardTimer);
  }

  has(connId: string): boolean {
    return this.connections.has(connId);
  }

  values(): IterableIterator<Connection> {
    return this.connections.values();
  }

  add(connId: string, c: Connection): void {
    this.connections.set(connId, c);
    this.alive.add(c.ws);
    c.ws.on('pong', () => this.alive.add(c.ws));
  }

  remove(connId: string): void {
    this.connections.delete(connId);
    this.waiting.delete(connId);
    this.heldTotal -= this.held.get(connId) ?? 0;
    this.held.delete(connId);
    this.admitWaiting();
  }

  /**
   * After each TCP chunk: accounts the connection's unfinished bytes, and stops its reads if it holds
   * more than its share.
   */
  onChunk(connId: string, watch: MessageWatch): void {
    const c = this.connections.get(connId);
    if (!c) return;
    const bytes = watch.heldBytes;
    this.heldTotal += bytes - (this.held.get(connId) ?? 0);
    if (bytes > 0) this.held.set(connId, bytes);
    else this.held.delete(connId);
    const soft = this.opts.maxUnfinishedBytes / 2;
    if (this.heldTotal <= soft) return this.admitWaiting();
    if (bytes > soft / this.held.size && !this.waiting.has(connId)) {
      this.waiting.add(connId);
      holdReads(c.socket, 'budget');
      this.opts.onHold(c, bytes);
    }
  }

  /** Closes every connection whose principal matches (e.g. a revoked token). */
  closeWhere(pred: (c: Connection) => boolean, code: ErrorCode): number {
    let n = 0;
    for (const c of this.connections.values()) {
      if (!pred(c)) continue;
      c.session.closeWith(code);
      n++;
    }
    return n;
  }

  /** Lets waiting connections read again while there is room, first stopped first. */
  private admitWaiting(): void {
    for (const id of this.waiting) {
      if (this.heldTotal > this.opts.maxUnfinishedBytes / 2) return;
      this.waiting.delete(id);
      const c = this.connections.get(id);
      if (c) releaseReads(c.socket, 'budget');
    }
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
    this.admitWaiting();
    const now = Date.now();
    const { idleTimeoutMs, messageTimeoutMs } = this.opts;
    for (const c of this.connections.values()) {
      const since = c.watch.partialSince;
      let code: ErrorCode | undefined;
      if (since !== undefined && now - since > messageTimeoutMs) code = 'E_MESSAGE_TIMEOUT';
      else if (since === undefined && now - c.session.lastMessageAt > idleTimeoutMs) code = 'E_IDLE_TIMEOUT';
      if (code !== undefined) c.session.closeWith(code);
    }
  }
}
