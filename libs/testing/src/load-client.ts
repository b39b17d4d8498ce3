import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { encodeFrame, PROTOCOL_V1 } from '@vision/wire';

export interface Reply {
  frameId: number;
  sentAt: number;
  at: number;
  /** `result`, or the error code. */
  outcome: string;
  batchSize?: number;
}

export interface Books {
  sent: number;
  answered: number;
  /** Frames sent on an open socket that never got a reply. Must be zero. */
  unanswered: number[];
  /** Frames answered more than once. Must be empty. */
  duplicates: number[];
  byOutcome: Record<string, number>;
  replies: Reply[];
}

export interface LoadClientOptions {
  /** Edge WebSocket URLs; the client reconnects to the next one when its socket closes. */
  urls: string[];
  image: Buffer;
  /** A clip: frame n carries `images[(n - 1) % length]` instead of `image` (moving objects for events). */
  images?: readonly Buffer[];
  /** Pause between sends, while fewer than `maxInFlight` frames are open. @defaultValue 50 */
  intervalMs?: number;
  /** @defaultValue 2 */
  maxInFlight?: number;
  streamId?: string;
  /** Upgrade request headers (a bearer token, X-Forwarded-For behind a trusted proxy). */
  headers?: Record<string, string>;
}

/**
 * A camera for fault tests: speaks yolo.v1, keeps at most `maxInFlight` frames open, follows
 * `goaway` and reconnects elsewhere, and keeps the books (every frame sent on an open socket must
 * get exactly one terminal reply).
 */
export class LoadClient {
  private ws: WebSocket | undefined;
  private readonly open = new Map<number, number>();
  private readonly seen = new Set<number>();
  private readonly replies: Reply[] = [];
  private readonly duplicates: number[] = [];
  private frameId = 0;
  private sent = 0;
  private urlIndex: number;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private mayWrite = false;
  private readonly listeners = new Set<() => void>();
  closes: number[] = [];

  constructor(
    private readonly opts: LoadClientOptions,
    startAt = 0,
  ) {
    this.urlIndex = startAt % opts.urls.length;
  }

  start(): void {
    this.running = true;
    this.connect();
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs ?? 50);
  }

  /** Stops sending and waits (up to `timeoutMs`) for the open frames' replies; then closes. */
  async stop(timeoutMs: number): Promise<Books> {
    this.running = false;
    clearInterval(this.timer);
    const until = Date.now() + timeoutMs;
    while (this.open.size > 0 && Date.now() < until) await sleep(20);
    this.ws?.close();
    const byOutcome: Record<string, number> = {};
    for (const r of this.replies) byOutcome[r.outcome] = (byOutcome[r.outcome] ?? 0) + 1;
    return {
      sent: this.sent,
      answered: this.replies.length,
      unanswered: [...this.open.keys()],
      duplicates: this.duplicates,
      byOutcome,
      replies: this.replies,
    };
  }

  /** Replies so far (a live view, for recovery measurements). */
  get log(): readonly Reply[] {
    return this.replies;
  }

  onReply(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private connect(): void {
    if (!this.running) return;
    const url = this.opts.urls[this.urlIndex];
    const ws = new WebSocket(url, [PROTOCOL_V1], { headers: this.opts.headers });
    this.ws = ws;
    this.mayWrite = false;
    ws.on('message', (data) => this.onMessage(JSON.parse(String(data)) as Record<string, unknown>));
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      this.closes.push(code);
      this.mayWrite = false;
      // Frames still open on a closed socket were answered before the close (drain) or never
      // accepted (connection refused): the books below tell which.
      this.urlIndex = (this.urlIndex + 1) % this.opts.urls.length;
      setTimeout(() => this.connect(), 100);
    });
  }

  private onMessage(m: Record<string, unknown>): void {
    if (m['type'] === 'hello') {
      this.mayWrite = true;
      return;
    }
    if (m['type'] === 'goaway') {
      this.mayWrite = false;
      return;
    }
    if (m['type'] !== 'result' && m['type'] !== 'error') return;
    const frameId = m['frameId'] as number | undefined;
    if (frameId === undefined) return;
    if (this.seen.has(frameId)) {
      this.duplicates.push(frameId);
      return;
    }
    const sentAt = this.open.get(frameId);
    if (sentAt === undefined) return;
    this.open.delete(frameId);
    this.seen.add(frameId);
    this.replies.push({
      frameId,
      sentAt,
      at: Date.now(),
      outcome: m['type'] === 'result' ? 'result' : (m['error'] as { code: string }).code,
      ...(typeof m['batchSize'] === 'number' ? { batchSize: m['batchSize'] } : {}),
    });
    for (const l of this.listeners) l();
  }

  private tick(): void {
    const ws = this.ws;
    if (!this.running || !ws || !this.mayWrite || ws.readyState !== WebSocket.OPEN) return;
    if (this.open.size >= (this.opts.maxInFlight ?? 2)) return;
    const id = ++this.frameId;
    this.open.set(id, Date.now());
    this.sent++;
    const clip = this.opts.images;
    const image = clip?.length ? clip[(id - 1) % clip.length] : this.opts.image;
    ws.send(encodeFrame({ frameId: id, streamId: this.opts.streamId }, image));
  }
}
