import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { VisionClient, type FrameOutcome, type WebSocketLike } from '@vision/client';
import {
  COLORS,
  drawScene,
  modelsDir,
  startRedisSite,
  type RedisSite,
  type ServiceProcess,
  sleep,
} from '@vision/testing';

const CLIENTS = 8;
const nodeWebSocket = (url: string, protocols: string[], headers: Record<string, string> | undefined) =>
  new WebSocket(url, protocols, { headers }) as unknown as WebSocketLike;

/**
 * The SDK against real processes: 8 clients spread over two edges; one edge is drained (SIGTERM)
 * mid-stream. Every frame must end as a result, a typed error or a counted skip, and every client
 * must be streaming again within 2 s.
 */
describe('client SDK across two edges, one drained mid-stream', () => {
  let site: RedisSite;
  let edges: ServiceProcess[];

  beforeAll(async () => {
    site = await startRedisSite('sdk', {
      env: { LOG_LEVEL: 'info', MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'), TENANT_MAX_QUEUE: '64' },
    });
    await site.start('worker');
    edges = await Promise.all(['e1', 'e2'].map((id) => site.start('edge', { EDGE_ID: id, SHUTDOWN_GRACE_MS: '3000' })));
  });

  afterAll(() => site.stop());

  it('accounts for every frame and resumes every client within 2 s', async () => {
    const urls = edges.map((e) => `ws://127.0.0.1:${e.port}/ws/detect`);
    const image = await drawScene({
      width: 1280,
      height: 720,
      format: 'jpeg',
      rects: [{ x: 640, y: 232, w: 64, h: 64, color: COLORS.green }],
    });
    const clients = Array.from(
      { length: CLIENTS },
      (_, i) =>
        new VisionClient({
          url: i % 2 ? [urls[1], urls[0]] : urls,
          webSocket: nodeWebSocket,
          backoff: { initialMs: 200 },
        }),
    );
    const outcomes: { client: number; sentAt: number; outcome: FrameOutcome; at: number }[] = [];
    const pending = new Set<Promise<void>>();
    let running = true;
    const loops = clients.map(async (c, i) => {
      while (running) {
        const sentAt = Date.now();
        const p = c
          .send(image, { streamId: `cam-${i}` })
          .then((outcome) => void outcomes.push({ client: i, sentAt, outcome, at: Date.now() }));
        pending.add(p);
        void p.finally(() => pending.delete(p));
        await sleep(50);
      }
    });
    await sleep(2000);
    const killedAt = Date.now();
    const drained = edges[0].kill('SIGTERM');
    await sleep(4000);
    running = false;
    await Promise.all(loops);
    await Promise.race([Promise.all(pending), sleep(10_000)]);
    expect(await drained).toBe(0);

    // Every frame accounted for: a promise that never settled would be missing here.
    const sent = outcomes.length + pending.size;
    expect(pending.size).toBe(0);
    const by = (s: string) => outcomes.filter((o) => o.outcome.status === s).length;
    console.log(
      'sdk books:',
      JSON.stringify({
        sent,
        results: by('result'),
        errors: by('error'),
        skipped: by('skipped'),
        codes: [...new Set(outcomes.flatMap((o) => (o.outcome.status === 'error' ? [o.outcome.error.code] : [])))],
      }),
    );
    expect(by('result') + by('error') + by('skipped')).toBe(sent);
    // Pacing skips what the service cannot take (the app offers 20 fps per camera); most still get through.
    expect(by('result')).toBeGreaterThan(sent / 4);
    for (const o of outcomes) {
      if (o.outcome.status === 'result') expect(o.outcome.result.detections.map((d) => d.name)).toEqual(['green']);
    }
    // Streaming again within 2 s: every client has a result for a frame sent within 2 s of the kill.
    for (let i = 0; i < CLIENTS; i++) {
      const resumed = outcomes.find((o) => o.client === i && o.sentAt >= killedAt && o.outcome.status === 'result');
      expect(resumed, `client ${i}`).toBeDefined();
      expect(resumed!.sentAt - killedAt, `client ${i}`).toBeLessThan(2000);
    }
    for (const c of clients) c.close();
  });
});
