import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort, sleep } from '@vision/testing';
import { parseFrame, type HelloMessage } from '@vision/wire';
import { Backoff, Pacer, VisionClient, type FrameOutcome, type WebSocketLike } from '../src';

describe('Backoff', () => {
  it('starts at 1 s, grows ×1.5, caps at 30 s', () => {
    const b = new Backoff({ jitter: 0 });
    const seq = Array.from({ length: 12 }, () => b.next(0));
    expect(seq.slice(0, 5)).toEqual([1000, 1500, 2250, 3375, 5063]);
    expect(Math.max(...seq)).toBe(30_000);
    expect(seq.slice(-3)).toEqual([30_000, 30_000, 30_000]);
  });

  it('spreads each delay within ±jitter', () => {
    const lo = new Backoff({ random: () => 0 });
    const hi = new Backoff({ random: () => 0.999999 });
    expect(lo.next(0)).toBe(800);
    expect(hi.next(0)).toBe(1200);
    const seen = Array.from({ length: 200 }, () => new Backoff().next(0));
    for (const d of seen) {
      expect(d).toBeGreaterThanOrEqual(800);
      expect(d).toBeLessThanOrEqual(1200);
    }
    expect(new Set(seen).size).toBeGreaterThan(50); // actually spread, not one fixed delay
  });

  it('resets after a connection that stayed up for a minute, not before', () => {
    const b = new Backoff({ jitter: 0 });
    b.next(0);
    b.next(0);
    b.opened(10_000);
    expect(b.next(10_000 + 59_000)).toBe(2250); // dropped before a stable minute: keeps growing
    b.opened(100_000);
    expect(b.next(100_000 + 60_000)).toBe(1000);
  });
});

describe('Pacer', () => {
  it('keeps at most `window` open; the newest waiting frame wins and older ones are skipped', () => {
    const p = new Pacer<number>(2);
    expect(p.offer(1)).toEqual({ send: 1 });
    expect(p.offer(2)).toEqual({ send: 2 });
    expect(p.offer(3)).toEqual({});
    expect(p.offer(4)).toEqual({ skipped: 3 });
    expect(p.offer(5)).toEqual({ skipped: 4 });
    expect(p.skipped).toBe(2);
    expect(p.done()).toBe(5);
    expect(p.openFrames).toBe(2);
    expect(p.done()).toBeUndefined();
    expect(p.openFrames).toBe(1);
  });

  it('holds frames while there is no connection and sends the newest once there is', () => {
    const p = new Pacer<number>(2);
    expect(p.offer(1, false)).toEqual({});
    expect(p.offer(2, false)).toEqual({ skipped: 1 });
    expect(p.flush()).toBe(2);
    expect(p.flush()).toBeUndefined();
  });
});

/** A scripted server side: the test plays the edge on each socket the client opens. */
class FakeSocket implements WebSocketLike {
  readyState = 0;
  protocol = 'yolo.v1';
  binaryType = 'blob';
  sent: (Uint8Array | string)[] = [];
  closed: number | undefined;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
    readonly headers: Record<string, string> | undefined,
  ) {}
  send(data: Uint8Array | string): void {
    this.sent.push(data);
  }
  close(code = 1000): void {
    if (this.closed !== undefined) return;
    this.closed = code;
    this.readyState = 3;
    queueMicrotask(() => this.onclose?.({ code }));
  }
  /** Server → client. */
  push(msg: object): void {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  hello(maxInFlight = 2): void {
    this.readyState = 1;
    const h: HelloMessage = {
      type: 'hello',
      protocol: 'yolo.v1',
      edgeId: 'e',
      model: 'default',
      limits: { maxInFlight, maxFrameBytes: 1 << 20, deadlineMs: 2000, framesPerSecond: 30, messagesPerSecond: 60 },
    };
    this.push(h);
  }
  frames(): number[] {
    return this.sent.filter((d): d is Uint8Array => typeof d !== 'string').map((d) => parseFrame(d).header!.frameId);
  }
  answer(frameId: number): void {
    this.push({
      type: 'result',
      frameId,
      detections: [],
      model: 'm',
      modelVersion: '1',
      batchSize: 1,
      timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0, totalMs: 0 },
    });
  }
}

function harness(opts: { resendWithinMs?: number; model?: string; tokenIn?: 'query' } = {}) {
  const sockets: FakeSocket[] = [];
  let now = 1_000_000;
  const client = new VisionClient({
    url: 'ws://edge/ws/detect',
    token: 'tok',
    webSocket: (url, protocols, headers) => {
      const s = new FakeSocket(url, protocols, headers);
      sockets.push(s);
      return s;
    },
    backoff: { jitter: 0, initialMs: 10 },
    heartbeatMs: 60_000,
    now: () => now,
    ...opts,
  });
  return { client, sockets, advance: (ms: number) => (now += ms) };
}

const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xdb, 1, 2, 3]);
const tick = () => sleep(0);

describe('VisionClient', () => {
  it('sends the token as a header in Node (and never without the yolo.v1 protocol)', async () => {
    const { client, sockets } = harness();
    await tick();
    expect(sockets[0].headers).toEqual({ authorization: 'Bearer tok' });
    expect(sockets[0].protocols).toEqual(['yolo.v1']);
    expect(sockets[0].url).toBe('ws://edge/ws/detect');
    client.close();
  });

  it('asks for its model in the URL, next to a query token', async () => {
    const { client, sockets } = harness({ model: 'hard hats', tokenIn: 'query' });
    await tick();
    expect(sockets[0].url).toBe('ws://edge/ws/detect?model=hard%20hats&token=tok');
    client.close();
  });

  it("paces by the server's window: latest frame wins at the source, counted as skipped", async () => {
    const { client, sockets } = harness();
    await tick();
    sockets[0].hello(2);
    const outcomes = [1, 2, 3, 4, 5].map(() => client.send(jpeg, { streamId: 'gate' }));
    await tick();
    expect(sockets[0].frames()).toEqual([1, 2]);
    sockets[0].answer(1);
    await tick();
    expect(sockets[0].frames()).toEqual([1, 2, 5]);
    sockets[0].answer(2);
    sockets[0].answer(5);
    const got = (await Promise.all(outcomes)).map((o) => o.status);
    expect(got).toEqual(['result', 'result', 'skipped', 'skipped', 'result']);
    expect(client.stats()[0]).toMatchObject({ streamId: 'gate', sent: 3, results: 3, skipped: 2 });
    client.close();
  });

  it('on goaway opens the next connection before the old one closes, and finishes frames on both', async () => {
    const { client, sockets } = harness();
    const states: string[] = [];
    client.on('state', (s) => states.push(s.state));
    await tick();
    sockets[0].hello(2);
    const a = client.send(jpeg);
    await tick();
    sockets[0].push({ type: 'goaway' });
    await tick();
    expect(sockets).toHaveLength(2); // the new socket exists while the old one is still open
    expect(sockets[0].closed).toBeUndefined();
    const b = client.send(jpeg); // waits for the new connection's hello
    await tick();
    sockets[1].hello(2);
    await tick();
    expect(sockets[1].frames()).toEqual([2]);
    sockets[0].answer(1); // the draining edge still answers its open frame
    sockets[1].answer(2);
    expect((await a).status).toBe('result');
    expect((await b).status).toBe('result');
    sockets[0].close(1001);
    await tick();
    expect(states).not.toContain('reconnecting');
    client.close();
  });

  it('resends a fresh open frame once after a drop, reports an old one E_CONNECTION_LOST, backs off', async () => {
    const { client, sockets, advance } = harness({ resendWithinMs: 1000 });
    const retries: number[] = [];
    client.on('state', (s) => s.retryInMs !== undefined && retries.push(s.retryInMs));
    await tick();
    sockets[0].hello(2);
    const old = client.send(jpeg);
    await tick();
    advance(5000);
    const fresh = client.send(jpeg);
    await tick();
    advance(100);
    sockets[0].close(1006);
    await tick();
    expect(await old).toMatchObject({ status: 'error', error: { code: 'E_CONNECTION_LOST' } });
    expect(retries).toEqual([10]);
    await sleep(30);
    expect(sockets).toHaveLength(2);
    sockets[1].hello(2);
    await tick();
    expect(sockets[1].frames()).toEqual([2]); // the fresh frame, resent once on the new socket
    sockets[1].answer(2);
    expect((await fresh).status).toBe('result');
    client.close();
  });

  it('never forgets a frame: one that was already resent is reported when its second socket drops too', async () => {
    const { client, sockets } = harness({ resendWithinMs: 60_000 });
    await tick();
    sockets[0].hello(1);
    const f = client.send(jpeg);
    await tick();
    sockets[0].close(1006);
    await sleep(30);
    sockets[1].hello(1);
    await tick();
    expect(sockets[1].frames()).toEqual([1]);
    sockets[1].close(1006);
    const outcome: FrameOutcome = await f;
    expect(outcome).toMatchObject({ status: 'error', error: { code: 'E_CONNECTION_LOST' } });
    client.close();
  });

  it('reports a frame still waiting for a connection E_CONNECTION_LOST on close (a real socket, no edge)', async () => {
    const client = new VisionClient({
      url: `ws://127.0.0.1:${await freePort()}/ws/detect`,
      webSocket: (url, protocols, headers) => new WebSocket(url, protocols, { headers }) as unknown as WebSocketLike,
      backoff: { jitter: 0, initialMs: 10_000 },
    });
    const waiting = client.send(jpeg);
    await sleep(100); // the connection has been refused; the frame waits
    client.close();
    const outcome = await Promise.race([waiting, sleep(2000, 'still pending')]);
    expect(outcome).toMatchObject({ status: 'error', error: { code: 'E_CONNECTION_LOST' } });
    expect(client.stats()[0]).toMatchObject({ streamId: 'default', errors: 1 });
  });
});
