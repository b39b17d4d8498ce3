import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { VisionClient, type FrameOutcome, type WebSocketLike } from '@vision/client';
import { COLORS, drawScene, modelsDir, signTestToken, startCluster, type Cluster, sleep } from '@vision/testing';

const CLIENTS = 6;
const RECT = { x: 640, y: 232, w: 64, h: 64 };

/** Open sockets an edge reports on its ops port. */
async function connectionsOn(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(/^vision_edge_connections (\d+)/m.exec(text)?.[1] ?? NaN);
}

/**
 * `npm run cluster`'s topology under test: nginx (TLS, round robin) in front of two edges with
 * authentication on, two workers, one redis-server. Clients connect only to nginx; one edge is
 * killed outright, and its clients must come back through nginx on the other edge with correct boxes.
 */
describe('nginx cluster: TLS load balancing over two edges, one killed', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      modelPath: join(modelsDir(), 'colors-v8-dyn.onnx'),
      env: { TENANT_MAX_QUEUE: '64' },
    });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('serves health through nginx and refuses a client without a token', async () => {
    const plain = await fetch(`http://127.0.0.1:${cluster.site.httpPort}/nginx-health`);
    expect(plain.status).toBe(200);
    const bare = new WebSocket(cluster.url, ['yolo.v1'], { ca: cluster.site.ca });
    const status = await new Promise<number>((resolve) =>
      bare.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(401);
  });

  it('spreads clients over both edges; when one dies its clients reconnect via nginx, boxes stay correct', async () => {
    const token = await signTestToken({ sub: 'site-cameras' }, cluster.jwtSecret);
    const webSocket = (url: string, protocols: string[], headers: Record<string, string> | undefined) =>
      new WebSocket(url, protocols, { headers, ca: cluster.site.ca }) as unknown as WebSocketLike;
    const image = await drawScene({
      width: 1280,
      height: 720,
      format: 'jpeg',
      rects: [{ ...RECT, color: COLORS.green }],
    });
    const clients = Array.from(
      { length: CLIENTS },
      () => new VisionClient({ url: cluster.url, token, webSocket, backoff: { initialMs: 200 } }),
    );
    const outcomes: { client: number; sentAt: number; outcome: FrameOutcome }[] = [];
    let running = true;
    let sent = 0;
    const loops = clients.map(async (c, i) => {
      while (running) {
        const sentAt = Date.now();
        sent++;
        void c
          .send(image, { streamId: `gate-${i}` })
          .then((outcome) => void outcomes.push({ client: i, sentAt, outcome }));
        await sleep(200);
      }
    });

    await expect
      .poll(() => outcomes.filter((o) => o.outcome.status === 'result').length, { timeout: 10_000 })
      .toBeGreaterThan(CLIENTS);
    const [victim, survivor] = cluster.edges;
    const spread = await Promise.all(cluster.edges.map((e) => connectionsOn(e.metricsPort)));
    // Round robin: both edges hold clients, and every client is on one of them.
    expect(
      spread.every((n) => n > 0),
      `connections per edge ${spread.join('/')}`,
    ).toBe(true);
    expect(spread[0] + spread[1]).toBe(CLIENTS);

    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    await expect.poll(() => connectionsOn(survivor.metricsPort), { timeout: 10_000 }).toBe(CLIENTS);
    await sleep(2000);
    running = false;
    await Promise.all(loops);
    await sleep(3000); // the last frames' replies
    for (const c of clients) c.close();
    expect(outcomes).toHaveLength(sent); // every frame settled: a result, a typed error or a counted skip

    const results = outcomes.filter((o) => o.outcome.status === 'result');
    for (const o of results) {
      if (o.outcome.status !== 'result') continue;
      const [d, ...rest] = o.outcome.result.detections;
      expect(rest).toEqual([]);
      expect(d.name).toBe('green');
      for (const [got, want] of [
        [d.xmin, RECT.x],
        [d.ymin, RECT.y],
        [d.xmax, RECT.x + RECT.w],
        [d.ymax, RECT.y + RECT.h],
      ])
        expect(Math.abs(got - want)).toBeLessThanOrEqual(6);
    }
    // Every client streams again through nginx within 3 s of the kill, on the surviving edge.
    for (let i = 0; i < CLIENTS; i++) {
      const resumed = results.find((o) => o.client === i && o.sentAt >= killedAt);
      expect(resumed, `client ${i}`).toBeDefined();
      expect(resumed!.sentAt - killedAt, `client ${i}`).toBeLessThan(3000);
    }
    // Frames lost with the dead edge are reported to the app, never left hanging.
    const errors = outcomes.flatMap((o) => (o.outcome.status === 'error' ? [o.outcome.error.code] : []));
    expect(
      new Set(errors).size === 0 ||
        [...new Set(errors)].every((c) => ['E_CONNECTION_LOST', 'E_UNAVAILABLE'].includes(c)),
      errors.join(','),
    ).toBe(true);
  });
});
