import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { VisionClient, type WebSocketLike } from '@vision/client';
import { COLORS, drawScene, uniquePrefix, type ServiceProcess, sleep } from '@vision/testing';
import { Mosquitto, mqttSubscriber, startEventsSite, waitFor, webhookReceiver, WEBHOOK_SECRET } from './harness';

const nodeWebSocket = (url: string, protocols: string[], headers: Record<string, string> | undefined) =>
  new WebSocket(url, protocols, { headers }) as unknown as WebSocketLike;
const STEPS = 18;

/**
 * Frame i of the clip (1280x720; one fixture-model cell is 64 px here): a red square walks along
 * row y 360 and a blue one along row y 104, one cell to the right per frame, captured at 2 fps.
 * The red one crosses the gate (x 640); the blue one passes through the bay (x 700..1000, y 100..250).
 */
function clipFrame(i: number): Promise<Buffer> {
  const x = 64 * (2 + i);
  return drawScene({
    width: 1280,
    height: 720,
    format: 'png',
    rects: [
      { x, y: 360, w: 64, h: 64, color: COLORS.red },
      { x, y: 104, w: 64, h: 64, color: COLORS.blue },
    ],
  });
}

/**
 * End to end with real parts: an SDK client streams the clip through an edge and a worker on Redis;
 * the worker appends each frame's detections to the results stream; the events service tracks them
 * and delivers to MQTT (mosquitto) and a signed webhook. Needs the worker's results-stream append.
 */
describe('end to end: SDK client -> edge -> worker -> results stream -> events -> MQTT and webhook', () => {
  let broker: Mosquitto;
  let hook: Awaited<ReturnType<typeof webhookReceiver>>;
  let sub: Awaited<ReturnType<typeof mqttSubscriber>>;
  let site: Awaited<ReturnType<typeof startEventsSite>>;
  let edge: ServiceProcess;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    hook = await webhookReceiver();
    sub = await mqttSubscriber(broker.url, 'vision/yard/#', `sub-${uniquePrefix('events-e2e')}`);
    site = await startEventsSite(
      'events-e2e',
      {
        models: { default: ['red', 'green', 'blue'] },
        cameras: {
          'cam-e2e': {
            model: 'default',
            rules: [
              { id: 'gate', type: 'line', units: 'px', from: [640, 720], to: [640, 0], classes: ['red'] },
              {
                id: 'bay',
                type: 'zone',
                units: 'px',
                polygon: [
                  [700, 100],
                  [1000, 100],
                  [1000, 250],
                  [700, 250],
                ],
                classes: ['blue'],
              },
            ],
          },
        },
        webhooks: [{ id: 'ops', url: hook.url, kinds: ['line.cross', 'zone.enter', 'zone.exit'] }],
      },
      {
        EVENTS_SITE: 'yard',
        EVENTS_MQTT_URL: broker.url,
        EVENTS_WEBHOOK_SECRET: WEBHOOK_SECRET,
        EVENTS_WEBHOOK_HOSTS: '127.0.0.1',
        EVENTS_REORDER_MS: '2000',
      },
    );
    edge = site.edge;
  });

  afterAll(async () => {
    await site?.stop();
    sub?.client.end(true);
    await broker?.stop('SIGKILL');
    hook?.server.close();
  });

  it('delivers the expected crossing, enter and exit, and nothing else', async () => {
    const client = new VisionClient({ url: `ws://127.0.0.1:${edge.port}/ws/detect`, webSocket: nodeWebSocket });
    const t0 = Date.now() - STEPS * 500;
    try {
      for (let i = 0; i < STEPS; i++) {
        const outcome = await client.send(await clipFrame(i), { streamId: 'cam-e2e', captureTs: t0 + i * 500 });
        expect(outcome.status, JSON.stringify(outcome)).toBe('result');
        if (outcome.status === 'result')
          expect(outcome.result.detections.map((d) => d.name).sort()).toEqual(['blue', 'red']);
      }
    } finally {
      client.close();
    }

    const isAction = (e: Record<string, unknown>) => e['kind'] !== 'count';
    const mq = await waitFor(
      'MQTT events',
      () => sub.messages.map((m) => m.body).filter(isAction),
      (m) => m.length >= 3,
      30_000,
    );
    const wh = await waitFor(
      'webhook events',
      () => hook.events,
      (e) => e.length >= 3,
      30_000,
    );
    await sleep(2500); // anything extra would have come by now
    const summary = (e: Record<string, unknown>) =>
      `${e['kind']} ${e['rule']} ${e['class']} ${e['direction'] ?? e['reason'] ?? ''}`.trim();
    const expected = ['line.cross gate red in', 'zone.enter bay blue', 'zone.exit bay blue left'];
    expect(
      sub.messages
        .map((m) => m.body)
        .filter(isAction)
        .map(summary),
    ).toEqual(expected);
    expect(hook.events.map(summary)).toEqual(expected);
    expect(wh.map((e) => e['id'])).toEqual(mq.map((e) => e['id']));
    expect(hook.bad).toBe(0);
    // One track per square, and every event names the camera.
    expect(new Set(mq.map((e) => `${e['class']}:${e['track']}`)).size).toBe(2);
    expect(mq.every((e) => e['camera'] === 'cam-e2e' && e['site'] === 'yard')).toBe(true);
    const counts = sub.messages
      .filter((m) => m.body['kind'] === 'count')
      .map((m) => `${m.body['rule']} ${JSON.stringify(m.body['counts'])}`);
    expect(counts).toEqual([
      'gate {"in":1,"out":0,"byClass":{"red":{"in":1,"out":0}}}',
      'bay {"total":1,"byClass":{"blue":1}}',
      'bay {"total":0,"byClass":{}}',
    ]);
  });
});
