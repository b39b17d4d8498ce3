import type WebSocket from 'ws';
import type { ErrorCode } from '@vision/wire';
import type { ClientSession } from './client-session';
import type { MessageWatch } from './message-watch';
import type { Admission } from './security/gatekeeper';

/** How often idle connections and unfinished messages are looked for. */
const GUARD_INTERVAL_MS = 1000;

export interface Connection {
  ws: WebSocket;
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
  /** A connection was dropped because the unfinished-message budget was full (a throttled log). */
  onEvict: (conn: Connection, heldBytes: number) => void;
}

/**
 * The edge's open sockets and the rules about their life: keep-alive pings (a peer that missed the
 * previous pong is terminated), the idle and unfinished-message timeouts, and one edge-wide bound
 * on the bytes held in unfinished messages. Past that bound the connection whose unfinished
 * message is oldest is dropped first: a peer stalling mid-message (the attack) is always older than
 * one whose frame is arriving now, so memory stays bounded and well-behaved clients keep going.
 */
export class ConnectionRegistry {
  private readonly connections = new Map<string, Connection>();
  private readonly alive = new WeakSet<WebSocket>();
  private readonly held = new Map<string, number>();
  private heldTotal = 0;
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
    this.heldTotal -= this.held.get(connId) ?? 0;
    this.held.delete(connId);
  }

  /** After each TCP chunk: account the connection's unfinished bytes, and shed the oldest past the budget. */
  onChunk(connId: string, watch: MessageWatch): void {
    if (!this.connections.has(connId)) return;
    const bytes = watch.heldBytes;
    this.heldTotal += bytes - (this.held.get(connId) ?? 0);
    if (bytes > 0) this.held.set(connId, bytes);
    else this.held.delete(connId);
    while (this.heldTotal > this.opts.maxUnfinishedBytes) {
      const victim = this.oldestUnfinished();
      if (!victim) break;
      const c = this.connections.get(victim)!;
      this.opts.onEvict(c, this.held.get(victim) ?? 0);
      // Dropped at once: waiting for a close handshake would keep its bytes past the budget.
      c.session.closeWith('E_MESSAGE_TIMEOUT');
      c.ws.terminate();
      this.remove(victim);
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

  private oldestUnfinished(): string | undefined {
    let best: string | undefined;
    let bestSince = Infinity;
    for (const id of this.held.keys()) {
      const since = this.connections.get(id)?.watch.partialSince ?? Infinity;
      if (since < bestSince || best === undefined) {
        best = id;
        bestSince = since;
      }
    }
    return best;
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
