import {
  encodeFrame,
  type Classification,
  type Detection,
  type ErrorCode,
  type HelloMessage,
  type ResultReply,
  type ServerMessageV1,
  type WireError,
} from '@vision/wire';
import { Backoff } from './backoff';
import {
  CLIENT_DEFAULTS,
  type ClientState,
  type FrameOutcome,
  type ResolvedOptions,
  type VisionClientOptions,
} from './client-options';
import { dial, type Conn, type Outgoing } from './client-connection';
import { Pacer } from './pacer';
import { StreamCounter, type StreamStats } from './stream-stats';

type Listener<T> = (v: T) => void;

/**
 * The yolo.v1 client for browsers and Node: paced sending (latest frame wins at the source),
 * reconnect with backoff, make-before-break on `goaway`, resend-or-report of frames a dropped socket
 * held, heartbeat, token refresh, and per-stream statistics.
 */
export class VisionClient {
  private conn: Conn | undefined;
  private readonly draining = new Set<Conn>();
  private readonly pacers = new Map<string, Pacer<Outgoing>>();
  private readonly counters = new Map<string, StreamCounter>();
  private readonly listeners = new Map<string, Set<Listener<never>>>();
  private readonly backoff: Backoff;
  private readonly now: () => number;
  private window = 2;
  private frameSeq = 0;
  private urlIndex = 0;
  private stopped = false;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  state: ClientState = 'connecting';
  hello: HelloMessage | undefined;

  private readonly o: ResolvedOptions;

  constructor(options: VisionClientOptions) {
    const o = (this.o = { ...CLIENT_DEFAULTS, ...options });
    this.backoff = new Backoff(o.backoff);
    this.now = o.now;
    void this.connect();
    const beat = setInterval(() => this.heartbeat(), o.heartbeatMs);
    this.timers.add(beat);
  }

  on(event: 'state', fn: Listener<{ state: ClientState; retryInMs?: number }>): () => void;
  on(event: 'result', fn: Listener<ResultReply>): () => void;
  on(
    event: 'frameError',
    fn: Listener<{ frameId: number; streamId: string; error: FrameOutcome & { status: 'error' } }>,
  ): () => void;
  on(event: string, fn: Listener<never>): () => void {
    const set = this.listeners.get(event) ?? new Set();
    set.add(fn);
    this.listeners.set(event, set);
    return () => set.delete(fn);
  }

  /**
   * Sends one encoded image (JPEG/PNG/WebP) on `streamId`. Resolves once the frame has a result, an
   * error (the server's code, or `E_CONNECTION_LOST`), or was skipped by pacing.
   */
  async send(
    image: Blob | ArrayBuffer | Uint8Array,
    opts: { streamId?: string; captureTs?: number } = {},
  ): Promise<FrameOutcome> {
    const bytes =
      image instanceof Uint8Array
        ? image
        : image instanceof ArrayBuffer
          ? new Uint8Array(image)
          : new Uint8Array(await image.arrayBuffer());
    const streamId = opts.streamId ?? CLIENT_DEFAULTS.streamId;
    return new Promise<FrameOutcome>((resolve) => {
      const f: Outgoing = {
        frameId: (this.frameSeq = (this.frameSeq + 1) >>> 0),
        streamId,
        image: bytes,
        captureTs: opts.captureTs,
        sentAt: 0,
        resent: false,
        resolve,
      };
      if (this.stopped)
        return resolve({
          status: 'error',
          frameId: f.frameId,
          error: { code: 'E_CONNECTION_LOST', message: 'the client is closed' },
        });
      const { send, skipped } = this.pacer(streamId).offer(f, Boolean(this.conn?.ready));
      if (skipped) skipped.resolve({ status: 'skipped' });
      if (skipped) this.counter(streamId).skipped++;
      if (send) this.transmit(send);
    });
  }

  stats(): StreamStats[] {
    const now = this.now();
    return [...this.counters.values()].map((c) => ({
      ...c.snapshot(now),
      skipped: this.pacers.get(c.streamId)?.skipped ?? 0,
    }));
  }

  /**
   * Closes for good: open frames are reported `E_CONNECTION_LOST` once their socket closes, and frames
   * still waiting for a connection or a slot at once.
   */
  close(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const [streamId, pacer] of this.pacers) {
      const waiting = pacer.dropWaiting();
      if (!waiting) continue;
      this.counter(streamId).errors++;
      waiting.resolve({
        status: 'error',
        frameId: waiting.frameId,
        error: { code: 'E_CONNECTION_LOST', message: 'the client closed before the frame was sent' },
      });
    }
    for (const c of [this.conn, ...this.draining]) c?.ws.close(1000, 'client closing');
    this.setState('closed');
  }

  private pacer(streamId: string): Pacer<Outgoing> {
    let p = this.pacers.get(streamId);
    if (!p) this.pacers.set(streamId, (p = new Pacer(this.window)));
    return p;
  }

  private counter(streamId: string): StreamCounter {
    let c = this.counters.get(streamId);
    if (!c) this.counters.set(streamId, (c = new StreamCounter(streamId)));
    return c;
  }

  private transmit(f: Outgoing): void {
    const conn = this.conn;
    if (!conn?.ready) return; // cannot happen: pacing holds frames while disconnected
    f.sentAt = this.now();
    conn.open.set(f.frameId, f);
    conn.ws.send(
      encodeFrame(
        { frameId: f.frameId, streamId: f.streamId, ...(f.captureTs ? { captureTs: f.captureTs } : {}) },
        f.image,
      ),
    );
    this.counter(f.streamId).onSend(f.image.length, f.sentAt);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.setState(this.state === 'open' || this.state === 'reconnecting' ? this.state : 'connecting');
    const token = typeof this.o.token === 'function' ? await this.o.token() : this.o.token;
    const ws = dial(this.o, token, this.urlIndex++);
    ws.binaryType = 'arraybuffer';
    const conn: Conn = { ws, ready: false, open: new Map(), lastHeard: this.now() };
    this.conn = conn;
    ws.onmessage = (ev) => this.onMessage(conn, ev.data);
    ws.onclose = () => this.onClose(conn);
    ws.onerror = () => undefined; // a close follows
  }

  private onMessage(conn: Conn, data: unknown): void {
    conn.lastHeard = this.now();
    if (typeof data !== 'string') return;
    const m = JSON.parse(data) as ServerMessageV1;
    if (m.type === 'hello') return this.onHello(conn, m);
    if (m.type === 'goaway') return this.onGoAway(conn);
    // A refreshed token: the next refresh is due before this one expires.
    if (m.type === 'auth') return this.scheduleRefresh(conn, m.tokenExpiresAt);
    if ((m.type !== 'result' && m.type !== 'error') || m.frameId === undefined) return;
    const f = conn.open.get(m.frameId);
    if (!f) return;
    conn.open.delete(m.frameId);
    const now = this.now();
    if (m.type === 'result') {
      this.counter(f.streamId).onResult(now - f.sentAt, m.batchSize, now);
      f.resolve({ status: 'result', result: m, latencyMs: now - f.sentAt });
      this.emit('result', m);
    } else {
      this.counter(f.streamId).errors++;
      const outcome = { status: 'error' as const, frameId: f.frameId, error: m.error };
      f.resolve(outcome);
      this.emit('frameError', { frameId: f.frameId, streamId: f.streamId, error: outcome });
    }
    const next = this.pacer(f.streamId).done(Boolean(this.conn?.ready));
    if (next) this.transmit(next);
  }

  private onHello(conn: Conn, hello: HelloMessage): void {
    if (conn !== this.conn) return;
    this.hello = hello;
    conn.ready = true;
    this.window = hello.limits.maxInFlight;
    this.backoff.opened(this.now());
    this.setState('open');
    for (const p of this.pacers.values()) {
      p.window = this.window;
      for (let f = p.flush(); f; f = p.flush()) this.transmit(f);
    }
    this.scheduleRefresh(conn, hello.tokenExpiresAt);
  }

  /** The edge drains: open the next connection first, let this one finish its open frames. */
  private onGoAway(conn: Conn): void {
    if (conn !== this.conn) return;
    conn.ready = false;
    this.draining.add(conn);
    void this.connect();
  }

  private onClose(conn: Conn): void {
    this.draining.delete(conn);
    const now = this.now();
    // Frames the socket held: resend once if still fresh, else report; never forget them.
    for (const f of conn.open.values()) {
      const pacer = this.pacer(f.streamId);
      pacer.done(false);
      if (!f.resent && now - f.sentAt < this.o.resendWithinMs && !this.stopped) {
        f.resent = true;
        const { send, skipped } = pacer.offer(f, Boolean(this.conn?.ready && this.conn !== conn));
        if (skipped) skipped.resolve({ status: 'skipped' });
        if (send) this.transmit(send);
      } else {
        this.counter(f.streamId).errors++;
        f.resolve({
          status: 'error',
          frameId: f.frameId,
          error: { code: 'E_CONNECTION_LOST', message: 'the connection closed with the frame open' },
        });
      }
    }
    conn.open.clear();
    if (conn !== this.conn || this.stopped) return;
    this.conn = undefined;
    const delay = this.backoff.next(now);
    this.setState('reconnecting', delay);
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.connect();
    }, delay);
    this.timers.add(t);
  }

  private heartbeat(): void {
    const conn = this.conn;
    if (!conn?.ready) return;
    const every = this.o.heartbeatMs;
    if (this.now() - conn.lastHeard > 2 * every) {
      conn.ws.close(4000, 'no traffic from the server');
      return;
    }
    conn.ws.send(JSON.stringify({ type: 'ping', ts: this.now() }));
  }

  private scheduleRefresh(conn: Conn, expiresAt: number | undefined): void {
    if (expiresAt === undefined || typeof this.o.token !== 'function') return;
    // A refresh that did not extend the token (the provider had no newer one yet) is tried again
    // after a pause: at once, it would repeat until the edge closed the connection for the flood.
    const due = expiresAt - this.o.refreshBeforeMs - this.now();
    const extended = expiresAt > (conn.tokenExpiresAt ?? 0);
    conn.tokenExpiresAt = expiresAt;
    const provider = this.o.token;
    const t = setTimeout(
      async () => {
        this.timers.delete(t);
        if (conn !== this.conn || !conn.ready) return;
        conn.ws.send(JSON.stringify({ type: 'auth', token: await provider() }));
      },
      extended ? Math.max(0, due) : Math.max(due, CLIENT_DEFAULTS.refreshRetryMs),
    );
    this.timers.add(t);
  }

  private setState(state: ClientState, retryInMs?: number): void {
    this.state = state;
    this.emit('state', retryInMs === undefined ? { state } : { state, retryInMs });
  }

  private emit(event: string, value: unknown): void {
    for (const fn of this.listeners.get(event) ?? []) (fn as Listener<unknown>)(value);
  }
}

export type { Classification, Detection, ErrorCode, ResultReply, StreamStats, WireError };
