import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import sharp from 'sharp';
import WebSocket from 'ws';
import { encodeFrame, PROTOCOL_V1, DETECT_PATH } from '@vision/wire';
import { repoRoot } from './paths';

/** The attack classes `npm run bench:attack` runs and the fairness test mixes. */
export const ATTACKS = [
  'frame-flood', // valid photos as fast as the socket takes them, ignoring the window
  'decode-heavy', // interlaced 16-bit PNG, progressive JPEG, a 12-megapixel photo
  'tiny-frames', // one TCP write holding 200k one-byte frames
  'message-flood', // bursts of broken frame headers and text control messages
  'unfinished-fragments', // a large first fragment, never finished (pongs keep the socket alive)
  'big-text', // 1 MiB text messages
  'connection-flood', // many sockets from one address, each sending nothing
  'http-json-bomb', // 10 MB nested JSON bodies to POST /v1/detect
  'costly-frames', // valid 40-megapixel photos, two in flight per socket (within the window)
] as const;
export type AttackKind = (typeof ATTACKS)[number];

export interface AbuseOptions {
  /** ws:// URL of the edge's /ws/detect. */
  url: string;
  kinds: AttackKind[];
  /** Concurrent connections per kind. */
  connections: number;
  /** Bearer token, if the edge authenticates. */
  token?: string;
  /** Spread X-Forwarded-For over many addresses (the edge must trust this peer as a proxy). */
  spoofAddresses?: boolean;
  /** A real photo for frame floods. */
  photo: Buffer;
  /** Bytes of an unfinished fragment. @defaultValue 1 MiB */
  fragmentBytes?: number;
  /** Local addresses (loopback aliases) the connections take in turn; unset: the system's choice. */
  localAddresses?: string[];
}

export interface AbuseStats {
  connections: number;
  closedByServer: number;
  refusedUpgrades: number;
  messagesSent: number;
  bytesSent: number;
}

const TICK_MS = 20;
/** An attacker that ignores backpressure only hurts its own memory: keep it from doing that. */
const MAX_BUFFERED = 8 * 1024 * 1024;

/** A hostile client population. Reconnects whenever it is cut off, until `stop()`. */
export class Abuse {
  private running = false;
  private readonly sockets = new Set<WebSocket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private heavy: Buffer[] = [];
  private huge: Buffer | undefined;
  private readonly inFlight = new WeakMap<WebSocket, number>();
  private tiny: Buffer | undefined;
  private readonly fragmented = new WeakSet<WebSocket>();
  private fragment: Buffer | undefined;
  readonly stats: AbuseStats = { connections: 0, closedByServer: 0, refusedUpgrades: 0, messagesSent: 0, bytesSent: 0 };

  constructor(private readonly opts: AbuseOptions) {}

  async start(): Promise<void> {
    this.running = true;
    if (this.opts.kinds.includes('decode-heavy')) this.heavy = await heavyImages();
    if (this.opts.kinds.includes('costly-frames')) this.huge = await fortyMegapixels(this.opts.photo);
    let n = 0;
    for (const kind of this.opts.kinds) {
      // Idle sockets are cheap to hold: the attack is their number.
      const count = kind === 'connection-flood' ? this.opts.connections * 4 : this.opts.connections;
      for (let i = 0; i < count; i++) this.launch(kind, n++);
    }
  }

  stop(): AbuseStats {
    this.running = false;
    for (const t of this.timers) clearInterval(t);
    for (const ws of this.sockets) ws.terminate();
    return this.stats;
  }

  private headers(i: number): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.opts.token) h['authorization'] = `Bearer ${this.opts.token}`;
    if (this.opts.spoofAddresses)
      h['x-forwarded-for'] = `10.${(i >> 8) & 255}.${i & 255}.${this.stats.connections % 250}`;
    return h;
  }

  private launch(kind: AttackKind, i: number): void {
    if (!this.running) return;
    if (kind === 'http-json-bomb') return this.jsonBomb(i);
    this.stats.connections++;
    const addresses = this.opts.localAddresses;
    const ws = new WebSocket(this.opts.url, [PROTOCOL_V1], {
      headers: this.headers(i),
      localAddress: addresses?.[i % addresses.length],
    });
    this.sockets.add(ws);
    ws.on('error', () => undefined);
    ws.on('unexpected-response', (_req, res) => {
      this.stats.refusedUpgrades++;
      res.resume();
      ws.terminate();
    });
    let timer: NodeJS.Timeout | undefined;
    ws.on('open', () => {
      if (kind === 'costly-frames') return this.windowed(ws);
      timer = this.every(() => this.tick(kind, ws));
      this.tick(kind, ws);
    });
    ws.on('close', () => {
      if (timer) {
        clearInterval(timer);
        this.timers.delete(timer);
      }
      this.sockets.delete(ws);
      // Any close while the attack runs is the server cutting it off (a 1006 when the close handshake
      // could not get through the attacker's own full send buffer).
      if (this.running) this.stats.closedByServer++;
      setTimeout(() => this.launch(kind, i), 50);
    });
  }

  /** Like a well-behaved client: two frames in flight, the next sent when one is answered. */
  private windowed(ws: WebSocket): void {
    const top = () => {
      while ((this.inFlight.get(ws) ?? 0) < 2 && ws.readyState === WebSocket.OPEN) {
        this.inFlight.set(ws, (this.inFlight.get(ws) ?? 0) + 1);
        this.send(ws, encodeFrame({ frameId: this.stats.messagesSent & 0xffffffff }, this.huge!));
      }
    };
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const m = JSON.parse(String(data)) as { type?: string; frameId?: number };
      if ((m.type === 'result' || m.type === 'error') && m.frameId !== undefined) {
        this.inFlight.set(ws, Math.max(0, (this.inFlight.get(ws) ?? 1) - 1));
        top();
      }
    });
    top();
  }

  private every(fn: () => void): NodeJS.Timeout {
    const t = setInterval(fn, TICK_MS);
    this.timers.add(t);
    return t;
  }

  private send(ws: WebSocket, data: Uint8Array | string, opts: { fin?: boolean } = {}): void {
    if (ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > MAX_BUFFERED) return;
    this.stats.messagesSent++;
    this.stats.bytesSent += data.length;
    ws.send(data, opts);
  }

  private tick(kind: AttackKind, ws: WebSocket): void {
    switch (kind) {
      case 'frame-flood':
        for (let k = 0; k < 4; k++)
          this.send(ws, encodeFrame({ frameId: this.stats.messagesSent & 0xffffffff }, this.opts.photo));
        return;
      case 'decode-heavy':
        this.send(ws, this.heavy[this.stats.messagesSent % this.heavy.length]);
        return;
      case 'message-flood':
        for (let k = 0; k < 50; k++) this.send(ws, k % 2 ? Buffer.from([1, 0, 0, 17]) : '{"type":"ping"}');
        return;
      case 'tiny-frames': {
        const raw = (ws as unknown as { _socket?: { write(b: Buffer): boolean; writableLength: number } })._socket;
        if (!raw || raw.writableLength > MAX_BUFFERED) return;
        const burst = (this.tiny ??= tinyFrames(200_000));
        this.stats.messagesSent += 200_000;
        this.stats.bytesSent += burst.length;
        raw.write(burst);
        return;
      }
      case 'unfinished-fragments':
        // One large first fragment per socket, then silence (ws answers the server's pings).
        if (!this.fragmented.has(ws)) {
          this.fragmented.add(ws);
          this.send(ws, (this.fragment ??= randomBytes(this.opts.fragmentBytes ?? 1024 * 1024)), { fin: false });
        }
        return;
      case 'big-text':
        this.send(ws, JSON.stringify({ type: 'ping', pad: 'x'.repeat(1024 * 1024) }));
        return;
      case 'connection-flood':
      case 'costly-frames':
        return; // holding the socket is the attack; costly frames go by their window
    }
  }

  private jsonBomb(i: number): void {
    const http = this.opts.url.replace(/^ws/, 'http').replace(DETECT_PATH, '/v1/detect');
    const depth = 2_000_000;
    const body = '{"image":' + '['.repeat(depth) + ']'.repeat(depth) + '}';
    const loop = async () => {
      while (this.running) {
        this.stats.messagesSent++;
        this.stats.bytesSent += body.length;
        await fetch(http, {
          method: 'POST',
          headers: { ...this.headers(i), 'content-type': 'application/json' },
          body,
        }).then(
          (r) => r.arrayBuffer(),
          () => undefined,
        );
      }
    };
    void loop();
  }
}

/** `n` masked one-byte binary frames in one buffer (what a client may legally send). */
function tinyFrames(n: number): Buffer {
  const frame = Buffer.from([0x82, 0x81, 1, 2, 3, 4, 0xff ^ 1]);
  const out = Buffer.allocUnsafe(frame.length * n);
  for (let k = 0; k < n; k++) frame.copy(out, k * frame.length);
  return out;
}

/** Images under the pixel cap that cost far more than their bytes to decode. */
async function heavyImages(): Promise<Buffer[]> {
  return [
    await sharp({ create: { width: 6300, height: 6300, channels: 3, background: { r: 9, g: 9, b: 9 } } })
      .toColourspace('rgb16')
      .png({ progressive: true, compressionLevel: 9 })
      .toBuffer(),
    await sharp({ create: { width: 4000, height: 3000, channels: 3, background: { r: 90, g: 90, b: 90 } } })
      .jpeg({ progressive: true, chromaSubsampling: '4:4:4' })
      .toBuffer(),
    await sharp(randomBytes(4000 * 3000 * 3), { raw: { width: 4000, height: 3000, channels: 3 } })
      .jpeg({ quality: 80 })
      .toBuffer(),
  ];
}

/** A real photo scaled to 7300×5400 (39.4 MP, under MAX_INPUT_PIXELS) and encoded as a plain JPEG. */
async function fortyMegapixels(photo: Buffer): Promise<Buffer> {
  return sharp(photo).resize(7300, 5400, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
}

/**
 * Runs `Abuse` in a child process (`npm run`'s tools app, `apps/tools/dist/abuse.js`); `stop()` ends
 * it and returns its stats.
 */
export async function startAbuseProcess(
  opts: Omit<AbuseOptions, 'photo'> & { photoPath: string },
): Promise<{ stop(): Promise<AbuseStats> }> {
  // At the lowest CPU priority: a real attacker sends from its own machines, and what is measured
  // is what the traffic costs the service, not what generating it costs the box they share here.
  const child = spawn(
    'nice',
    ['-n', '19', process.execPath, join(repoRoot(), 'apps', 'tools', 'dist', 'abuse.js'), JSON.stringify(opts)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines: string[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    buf += c;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const until = Date.now() + 30_000;
  while (!lines.length) {
    if (Date.now() > until || child.exitCode !== null) throw new Error('the abuse process did not start');
    await sleep(20);
  }
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
      const last = [...lines].reverse().find((l) => l.includes('"connections"'));
      if (!last) throw new Error('the abuse process ended without its stats');
      return JSON.parse(last) as AbuseStats;
    },
  };
}
