import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'node:http';
import WebSocket from 'ws';
import { encodeFrame, PROTOCOL_V1, DETECT_PATH } from '@vision/wire';
import { CountingAgent } from './counting-agent';

export type BenchTransport = 'ws-binary' | 'ws-seed' | 'http-base64' | 'http-binary';
export const BENCH_TRANSPORTS: readonly BenchTransport[] = ['ws-binary', 'http-base64', 'http-binary'];

export interface FrameRecord {
  /** ms since the run started when the camera sent it. */
  sentAtMs: number;
  latencyMs: number;
  /** `result` or an error code. */
  outcome: string;
  batchSize?: number;
  imageBytes: number;
}

export interface CameraRun {
  transport: BenchTransport;
  cameras: number;
  fps: number;
  elapsedMs: number;
  frames: FrameRecord[];
  /** Frames a camera did not send because two of its frames were still open (what a real camera drops). */
  skippedAtSource: number;
  bytesUp: number;
  bytesDown: number;
}

export interface CameraRunOptions {
  transport: BenchTransport;
  /** Edge base URL, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  images: Buffer[];
  cameras: number;
  fps: number;
  seconds: number;
  /**
   * Frames a camera keeps open before it skips at the source; Infinity = open loop (a camera that never
   * waits).
   * @defaultValue 2
   */
  maxInFlight?: number;
  /** A frame not answered by then counts as `E_CLIENT_TIMEOUT`. @defaultValue 60000 */
  timeoutMs?: number;
  /** ws-binary: the model every camera's connection chooses (`?model=`). */
  model?: string;
  /**
   * A bearer token every connection and request carries (`Authorization: Bearer`), for edges with
   * authentication on.
   */
  token?: string;
  onFrame?: () => void;
}

/**
 * N simulated cameras, each offering F frames per second and keeping at most `maxInFlight` open,
 * over one transport: `ws-binary` (yolo.v1), `ws-seed` (no sub-protocol; replies in order, as the
 * naive baseline sends them), or HTTP with a base64 JSON or binary body.
 */
export async function runCameras(o: CameraRunOptions): Promise<CameraRun> {
  const agent = new CountingAgent({ keepAlive: true, maxSockets: o.cameras * 2 });
  const frames: FrameRecord[] = [];
  let skipped = 0;
  const maxInFlight = o.maxInFlight ?? 2;
  const headers: Record<string, string> = o.token ? { authorization: `Bearer ${o.token}` } : {};
  const senders = await Promise.all(
    Array.from({ length: o.cameras }, (_, i) =>
      o.transport === 'ws-binary'
        ? wsSender(o.baseUrl, agent, headers, i, o.model)
        : o.transport === 'ws-seed'
          ? seedSender(o.baseUrl, agent, headers)
          : httpSender(o, agent, headers),
    ),
  );
  const started = Date.now();
  const stopAt = started + o.seconds * 1000;
  await Promise.all(
    senders.map(async (send, cam) => {
      let open = 0;
      let n = 0;
      const pending: Promise<void>[] = [];
      // Stagger cameras across the frame interval, like independent cameras would be.
      await sleep(((cam / o.cameras) * 1000) / o.fps);
      for (let next = Date.now(); next < stopAt; next += 1000 / o.fps) {
        await sleep(Math.max(0, next - Date.now()));
        if (open >= maxInFlight) {
          skipped++;
          continue;
        }
        const image = o.images[(cam + n++) % o.images.length];
        open++;
        const t0 = performance.now();
        const sentAtMs = Date.now() - started;
        const timeout = new Promise<{ outcome: string }>((r) =>
          setTimeout(() => r({ outcome: 'E_CLIENT_TIMEOUT' }), o.timeoutMs ?? 60_000).unref(),
        );
        pending.push(
          Promise.race([send(image), timeout]).then((r) => {
            open--;
            frames.push({ sentAtMs, latencyMs: performance.now() - t0, imageBytes: image.length, ...r });
            o.onFrame?.();
          }),
        );
      }
      await Promise.all(pending);
    }),
  );
  const elapsedMs = Date.now() - started;
  const { written, read } = agent.bytes;
  for (const s of senders) s.close?.();
  agent.destroy();
  return {
    transport: o.transport,
    cameras: o.cameras,
    fps: o.fps,
    elapsedMs,
    frames,
    skippedAtSource: skipped,
    bytesUp: written,
    bytesDown: read,
  };
}

type Sender = ((image: Buffer) => Promise<{ outcome: string; batchSize?: number }>) & { close?: () => void };

async function wsSender(
  baseUrl: string,
  agent: CountingAgent,
  headers: Record<string, string>,
  cam: number,
  model: string | undefined,
): Promise<Sender> {
  const query = model ? `?model=${encodeURIComponent(model)}` : '';
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${DETECT_PATH}${query}`, [PROTOCOL_V1], {
    agent,
    headers,
  });
  const waiting = new Map<number, (r: { outcome: string; batchSize?: number }) => void>();
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as {
        type: string;
        frameId?: number;
        batchSize?: number;
        error?: { code: string };
      };
      if (m.type === 'hello') return resolve();
      if (m.frameId === undefined) return;
      const done = waiting.get(m.frameId);
      waiting.delete(m.frameId);
      done?.(
        m.type === 'result'
          ? { outcome: 'result', batchSize: m.batchSize }
          : { outcome: m.error?.code ?? 'E_INTERNAL' },
      );
    });
  });
  let id = 0;
  const send: Sender = (image) =>
    new Promise((resolve) => {
      const frameId = ++id;
      waiting.set(frameId, resolve);
      ws.send(encodeFrame({ frameId, streamId: `cam-${cam}` }, image));
    });
  send.close = () => ws.close();
  return send;
}

/** The seed protocol: no header, replies in send order (the naive server answers one at a time). */
async function seedSender(baseUrl: string, agent: CountingAgent, headers: Record<string, string>): Promise<Sender> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${DETECT_PATH}`, { agent, headers });
  const fifo: ((r: { outcome: string }) => void)[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => resolve());
  });
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as unknown;
    fifo.shift()?.(
      Array.isArray(m)
        ? { outcome: 'result' }
        : { outcome: (m as { error?: { code: string } }).error?.code ?? 'E_INTERNAL' },
    );
  });
  const send: Sender = (image) =>
    new Promise((resolve) => {
      fifo.push(resolve);
      ws.send(image);
    });
  send.close = () => ws.close();
  return send;
}

async function httpSender(o: CameraRunOptions, agent: CountingAgent, auth: Record<string, string>): Promise<Sender> {
  const url = new URL('/v1/detect', o.baseUrl);
  return (image) =>
    new Promise((resolve) => {
      const json = o.transport === 'http-base64';
      const body = json ? Buffer.from(JSON.stringify({ image: image.toString('base64') })) : image;
      const req = request(
        url,
        {
          method: 'POST',
          agent,
          headers: { ...auth, 'content-type': json ? 'application/json' : 'image/jpeg', 'content-length': body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode === 200)
              return resolve({ outcome: 'result', batchSize: Number(res.headers['x-batch-size']) });
            try {
              resolve({
                outcome: (JSON.parse(Buffer.concat(chunks).toString()) as { error: { code: string } }).error.code,
              });
            } catch {
              resolve({ outcome: `HTTP_${res.statusCode}` });
            }
          });
        },
      );
      req.on('error', () => resolve({ outcome: 'E_CONNECTION' }));
      req.end(body);
    });
}
