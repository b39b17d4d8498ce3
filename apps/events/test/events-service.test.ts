import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendResults, resultsShard, type ResultsEntry } from '@vision/results-stream';
import {
  cleanupPrefix,
  startService,
  startTestRedis,
  uniquePrefix,
  type ServiceProcess,
  type TestRedis,
  sleep,
} from '@vision/testing';
import { frames, Mosquitto, mqttSubscriber, waitFor, webhookReceiver, WEBHOOK_SECRET } from './harness';

const SHARDS = 4;

/** Frames delivered as a batching worker might: neighbours swapped, some twice. */
function shuffled(entries: ResultsEntry[]): ResultsEntry[] {
  const out = [...entries];
  for (let i = 0; i + 1 < out.length; i += 3) [out[i], out[i + 1]] = [out[i + 1], out[i]];
  for (let i = 5; i < entries.length; i += 7) out.splice(i, 0, entries[i - 2]);
  return out;
}

/**
 * A person walking at y 600 from `x0` to `x1` over 60 frames from `t0`: across the gate (x 640) and through the
 * bay.
 */
const walk = (x0: number, x1: number, t0: number, firstFrame: number) =>
  frames('cam-1', [{ cls: 0, w: 50, h: 120, a: [x0, 600], b: [x1, 600], f0: 0, f1: 59 }], 60, t0, 10).map((e) => ({
    ...e,
    frame: e.frame + firstFrame,
  }));

// Each test has a Redis, a broker, a webhook receiver and a service of its own.
describe('events service: one instance, MQTT on mosquitto, a signed webhook', () => {
  let redis: TestRedis;
  let r: Redis;
  let broker: Mosquitto;
  let svc: ServiceProcess;
  let hook: Awaited<ReturnType<typeof webhookReceiver>>;
  let sub: Awaited<ReturnType<typeof mqttSubscriber>>;
  let prefix: string;
  const stored = async () =>
    (await r.xrange(`${prefix}:events:stream:${resultsShard('cam-1', SHARDS)}`, '-', '+')).map(
      ([, f]) => JSON.parse(f[f.indexOf('event') + 1]) as Record<string, unknown>,
    );
  const t0 = Date.now() - 20_000;

  beforeEach(async () => {
    prefix = uniquePrefix('events');
    redis = await startTestRedis();
    r = new Redis(redis.url);
    broker = await Mosquitto.start();
    // The receiver refuses the first delivery (503): it is retried after 1 s (the bulk jobs' policy).
    hook = await webhookReceiver(1);
    sub = await mqttSubscriber(broker.url, 'vision/plant/#', `sub-${prefix}`);
    const dir = mkdtempSync(join(tmpdir(), 'site-'));
    const site = {
      models: { synthetic: ['person', 'car'] },
      cameras: {
        'cam-1': {
          model: 'synthetic',
          rules: [
            { id: 'gate', type: 'line', from: [0.5, 0.95], to: [0.5, 0.05] },
            {
              id: 'bay',
              type: 'zone',
              polygon: [
                [0.6, 0.5],
                [0.9, 0.5],
                [0.9, 0.95],
                [0.6, 0.95],
              ],
              classes: ['person'],
            },
          ],
        },
      },
      webhooks: [{ id: 'ops', url: hook.url }],
    };
    writeFileSync(join(dir, 'site.json'), JSON.stringify(site));
    svc = await startService('events', {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      RESULTS_SHARDS: String(SHARDS),
      EVENTS_SITE: 'plant',
      EVENTS_SITE_FILE: join(dir, 'site.json'),
      EVENTS_MQTT_URL: broker.url,
      EVENTS_WEBHOOK_SECRET: WEBHOOK_SECRET,
      EVENTS_WEBHOOK_HOSTS: '127.0.0.1',
      EVENTS_REORDER_MS: '300',
      EVENTS_LEASE_MS: '2000',
    });
  });

  afterEach(async () => {
    await svc?.kill('SIGKILL');
    sub?.client.end(true);
    await broker?.stop('SIGKILL');
    hook?.server.close();
    r?.disconnect();
    await cleanupPrefix(redis.url, prefix);
    await redis.stop();
  });

  it('turns a walk across the gate and through the bay into its events, in order, on every output', async () => {
    // A person walks left to right at y 600: across the gate (x 640), into the bay (x 768..1152) and out.
    await appendResults(r, prefix, SHARDS, 10_000, shuffled(walk(200, 1260, t0, 0)));
    const events = await waitFor('6 events', stored, (e) => e.length >= 6);
    await sleep(500);
    expect((await stored()).length).toBe(6);
    expect(events.map((e) => `${e['kind']} ${e['rule']}`)).toEqual([
      'line.cross gate',
      'count gate',
      'zone.enter bay',
      'count bay',
      'zone.exit bay',
      'count bay',
    ]);
    expect(events[0]).toMatchObject({
      site: 'plant',
      camera: 'cam-1',
      direction: 'in',
      class: 'person',
      track: 1,
      box: expect.any(Array),
    });
    expect(events[4]).toMatchObject({ reason: 'left', track: 1 });
    expect(events.map((e) => e['counts']).filter(Boolean)).toEqual([
      { in: 1, out: 0, byClass: { person: { in: 1, out: 0 } } },
      { total: 1, byClass: { person: 1 } },
      { total: 0, byClass: {} },
    ]);
    const ts = events.map((e) => e['ts'] as number);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));

    // MQTT (QoS 1, one topic per site/camera/rule/kind) and the webhook got the same events, ids included.
    const mq = await waitFor(
      'MQTT messages',
      () => sub.messages,
      (m) => m.length >= 6,
    );
    expect(mq.map((m) => m.body['id'])).toEqual(events.map((e) => e['id']));
    expect(mq[0].topic).toBe('vision/plant/cam-1/gate/line.cross');
    expect(mq[1].topic).toBe('vision/plant/cam-1/gate/count');
    const wh = await waitFor(
      'webhook events',
      () => hook.events,
      (e) => e.length >= 6,
    );
    expect(wh.map((e) => e['id'])).toEqual(events.map((e) => e['id']));
    expect(hook.bad).toBe(0);

    // Counts are retained: a subscriber that comes later gets each rule's latest at once.
    const late = await mqttSubscriber(broker.url, 'vision/plant/cam-1/+/count', `late-${prefix}`);
    const retained = await waitFor(
      'retained counts',
      () => late.messages,
      (m) => m.length >= 2,
    );
    late.client.end(true);
    expect(retained.every((m) => m.retain)).toBe(true);
    expect(Object.fromEntries(retained.map((m) => [m.topic, m.body['counts']]))).toEqual({
      'vision/plant/cam-1/gate/count': { in: 1, out: 0, byClass: { person: { in: 1, out: 0 } } },
      'vision/plant/cam-1/bay/count': { total: 0, byClass: {} },
    });

    const metrics = await (await fetch(`http://127.0.0.1:${svc.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^vision_events_line_crossings_total\{camera="cam-1",rule="gate",direction="in"\} 1$/m);
    expect(metrics).toMatch(/^vision_events_zone_occupancy\{camera="cam-1",rule="bay"\} 0$/m);
    expect(metrics).toMatch(/^vision_events_lag_seconds_count 6$/m);
    expect(metrics).toMatch(/^vision_events_frames_total\{outcome="duplicate"\} [1-9]/m);
    expect(metrics).toMatch(/^vision_events_processed_frames_total 60$/m);
    expect(metrics).toMatch(/^vision_events_deliveries_total\{output="webhook",outcome="retried"\} [1-9]/m);
    expect(hook.requests).toBeGreaterThanOrEqual(2);
  });

  it('keeps delivering webhooks while the broker is down; MQTT catches up without loss once it is back', async () => {
    // A walk across while the broker is up: MQTT and the webhook have delivered its 6 events.
    await appendResults(r, prefix, SHARDS, 10_000, walk(200, 1260, t0, 0));
    await waitFor(
      'the first walk on MQTT',
      () => sub.messages,
      (m) => m.length >= 6,
    );
    await waitFor(
      'the first walk on the webhook',
      () => hook.events,
      (e) => e.length >= 6,
    );
    await broker.stop('SIGTERM');
    const before = (await stored()).length;
    expect(before).toBe(6);
    // The person walks back: into the bay, out, and across the gate the other way.
    await appendResults(r, prefix, SHARDS, 10_000, walk(1260, 200, t0 + 10_000, 1000));
    const all = await waitFor('6 more events', stored, (e) => e.length >= before + 6);
    expect(all.slice(before).map((e) => `${e['kind']} ${e['rule']}`)).toEqual([
      'zone.enter bay',
      'count bay',
      'zone.exit bay',
      'count bay',
      'line.cross gate',
      'count gate',
    ]);
    // The webhook does not wait for the broker.
    await waitFor(
      'webhook events while MQTT is down',
      () => hook.events,
      (e) => e.length >= 12,
    );
    expect(sub.messages).toHaveLength(6);

    await broker.restart();
    const mq = await waitFor(
      'MQTT to catch up',
      () => sub.messages,
      (m) => new Set(m.map((x) => x.body['id'])).size >= 12,
      20_000,
    );
    expect([...new Set(mq.map((m) => m.body['id']))]).toEqual(all.map((e) => e['id']));
    // At least once: a repeat is the same event.
    const byId = new Map(all.map((e) => [e['id'], JSON.stringify(e)]));
    for (const m of mq) expect(JSON.stringify(m.body)).toBe(byId.get(m.body['id']));
  });
});
