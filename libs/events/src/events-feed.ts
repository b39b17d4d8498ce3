import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import type { Principal } from '@vision/auth';
import type { EventsConfig } from '@vision/config';
import { errorReply, HttpError, refuseUpgrade } from '@vision/http';
import { READ_SCOPE, type EventsAuth } from './events-auth';
import type { EventsKeys } from './events-keys';
import type { EventsMetrics } from '@vision/metrics';
import type { RulesStore } from './rules-store';
import { drawnRuleView } from './site-rules';

const FEED_PATH = '/ws/events';
const FEED_PROTOCOL = 'events.v1';
/** How long the feed's read blocks on the events streams; bounds how long a stop waits. */
const BLOCK_MS = 1000;

interface Client {
  ws: WebSocket;
  principal: Principal;
  cameras: Set<string> | undefined;
}

export interface FeedDeps {
  cfg: EventsConfig;
  keys: EventsKeys;
  store: RulesStore;
  auth: EventsAuth;
  metrics: EventsMetrics;
  log: Logger;
  /** Every shard's events stream is followed (`ResultsSources.shards`). */
  shards: number;
  /** Connections of the feed's own (a blocking reader and a subscriber), made when the first client comes. */
  newRedis(name: string): Redis;
  /** Current counts per rule of a camera. */
  counts(camera: string): Promise<unknown>;
}

/**
 * `/ws/events`: JSON messages for the demo page and dashboards. `hello` (and `rules` when they
 * change) carries each camera's zones, lines and counts; `event` every event of the events stream
 * as it is committed, from every shard (any instance serves any camera); `tracks` the confirmed
 * tracks of each frame (their ids and boxes) while anyone watches. A token needs `events:read`;
 * its `streams` claim and `?cameras=a,b` narrow the cameras. A client that falls behind by more
 * than EVENTS_WS_MAX_BUFFER_BYTES misses track frames; one that would miss events is closed (1013).
 */
export class EventsFeed {
  // Browsers authenticate with the subprotocols `events.v1, bearer.<token>`; the answer is `events.v1`,
  // never the token.
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: 4096,
    clientTracking: false,
    handleProtocols: (offered) => (offered.has(FEED_PROTOCOL) ? FEED_PROTOCOL : false),
  });
  private readonly clients = new Set<Client>();
  private reader: Redis | undefined;
  private subscriber: Redis | undefined;
  private loop: Promise<void> | undefined;
  /** Settles once the running loop knows where it reads from (rejected if it could not start). */
  private positioned: Promise<void> = Promise.resolve();
  private readonly unwatch: () => void;
  private closed = false;

  constructor(private readonly deps: FeedDeps) {
    this.unwatch = deps.store.onChange(() => {
      for (const c of this.clients) void this.sendRules(c, 'rules');
    });
  }

  /** For the HTTP server's `upgrade` event; answers requests for other paths with 404. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://events');
    const refuse = (err: unknown) => refuseUpgrade(socket, errorReply(err));
    if (url.pathname !== FEED_PATH) return refuse(new HttpError('E_NO_ROUTE', `no route ${url.pathname}`));
    if (this.clients.size >= this.deps.cfg.ws.maxClients)
      return refuse(new HttpError('E_UNAVAILABLE', 'too many feed connections'));
    this.deps.auth.principal(req, READ_SCOPE, 'any').then((principal) => {
      const cameras = url.searchParams.get('cameras');
      this.wss.handleUpgrade(req, socket, head, (ws) =>
        this.accept({ ws, principal, cameras: cameras ? new Set(cameras.split(',').filter(Boolean)) : undefined }),
      );
    }, refuse);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unwatch();
    for (const c of this.clients) c.ws.close(1001, 'shutting down');
    this.clients.clear();
    await this.idle();
  }

  private accept(c: Client): void {
    this.clients.add(c);
    this.deps.metrics.wsClients.set(this.clients.size);
    c.ws.on('close', () => {
      this.clients.delete(c);
      this.deps.metrics.wsClients.set(this.clients.size);
      if (!this.clients.size) void this.idle();
    });
    c.ws.on('error', () => undefined);
    if (!this.loop) this.loop = this.follow();
    // `hello` once the feed knows where the events streams end: every event after it reaches the client.
    this.positioned.then(
      () => this.sendRules(c, 'hello'),
      () => undefined,
    );
    if (!this.subscriber && this.deps.cfg.liveTracks) {
      this.subscriber = this.deps.newRedis('events-feed-live');
      this.subscriber.on('message', (_channel: string, raw: string) => this.broadcast(raw, 'tracks'));
      this.subscriber
        .connect()
        .then(() => this.subscriber?.subscribe(this.deps.keys.live))
        .catch((err: Error) => this.deps.log.warn({ err: err.message }, 'live tracks unavailable'));
    }
  }

  private wants(c: Client, camera: string): boolean {
    return this.deps.auth.cameraAllowed(c.principal, camera) && (!c.cameras || c.cameras.has(camera));
  }

  private async sendRules(c: Client, type: 'hello' | 'rules'): Promise<void> {
    const cameras = await Promise.all(
      this.deps.store
        .cameras()
        .filter((cam) => this.deps.store.rulesFor(cam).length && this.wants(c, cam))
        .map(async (camera) => ({
          camera,
          rules: this.deps.store.rulesFor(camera).map(drawnRuleView),
          counts: await this.deps.counts(camera).catch(() => ({})),
        })),
    );
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify({ type, site: this.deps.cfg.site, cameras }));
  }

  /** `raw` is a JSON message with a `camera` (tracks) or an `event.camera`. */
  private broadcast(raw: string, kind: 'tracks' | 'event', camera?: string): void {
    const cam = camera ?? (JSON.parse(raw) as { camera: string }).camera;
    for (const c of this.clients) {
      if (!this.wants(c, cam) || c.ws.readyState !== WebSocket.OPEN) continue;
      if (c.ws.bufferedAmount > this.deps.cfg.ws.maxBufferBytes) {
        if (kind === 'event') {
          this.deps.metrics.deliveries.inc({ output: 'ws', outcome: 'closed_slow' });
          c.ws.close(1013, 'too slow');
        }
        continue;
      }
      c.ws.send(raw);
      if (kind === 'event') this.deps.metrics.deliveries.inc({ output: 'ws', outcome: 'delivered' });
    }
  }

  /**
   * Tails every shard's events stream while anyone is connected, broadcasting each event: from the
   * streams' ends, or from `from`, where a loop winding down left off.
   */
  private async follow(from?: string[]): Promise<void> {
    const reader = (this.reader = this.deps.newRedis('events-feed'));
    let positioned!: { resolve(): void; reject(err: unknown): void };
    this.positioned = new Promise<void>((resolve, reject) => (positioned = { resolve, reject }));
    this.positioned.catch(() => undefined);
    let failed = false;
    const keys = Array.from({ length: this.deps.shards }, (_, s) => this.deps.keys.events(s));
    let ids = from;
    try {
      await reader.connect();
      ids ??= await Promise.all(
        keys.map(async (k) => (await reader.xrevrange(k, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0'),
      );
      positioned.resolve();
      while (this.clients.size) {
        const res = (await reader.xread('COUNT', 500, 'BLOCK', BLOCK_MS, 'STREAMS', ...keys, ...ids)) as
          [string, [string, string[]][]][] | null;
        for (const [key, entries] of res ?? []) {
          const i = keys.indexOf(key);
          for (const [id, f] of entries) {
            ids[i] = id;
            const camera = f[f.indexOf('camera') + 1];
            this.broadcast(`{"type":"event","event":${f[f.indexOf('event') + 1]}}`, 'event', camera);
          }
        }
      }
    } catch (err) {
      positioned.reject(err);
      failed = this.clients.size > 0;
      if (failed) this.deps.log.warn({ err: (err as Error).message }, 'event feed stopped; clients closed');
      for (const c of this.clients) c.ws.close(1011, 'feed unavailable');
    } finally {
      reader.disconnect();
      this.reader = undefined;
      this.loop = undefined;
      // A client that came while this loop was winding down.
      if (this.clients.size && !failed && !this.closed) this.loop = this.follow(ids);
    }
  }

  private async idle(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = undefined;
    sub?.disconnect();
    this.reader?.disconnect();
    await this.loop;
  }
}
