import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendResults, resultsShard } from '@vision/results-stream';
import {
  cleanupPrefix,
  startService,
  startTestRedis,
  uniquePrefix,
  type ServiceProcess,
  type TestRedis,
  sleep,
} from '@vision/testing';
import { crossingMovers, frames, Mosquitto, mqttSubscriber, waitFor } from './harness';

const SHARDS = 4;
const FPS = 10;
const FRAMES = 120;
/** Frames at which the broker is killed and started again: a 3 s outage, longer than the client's reconnect period. */
const KILL_AT = 30;
const RESTART_AT = 60;

/** A person across the gate every 1.2 s, alternating directions, on three lanes. */
const movers = crossingMovers(9, 12);

describe('events service: MQTT after the broker is killed (SIGKILL) and started again', () => {
  let redis: TestRedis;
  let r: Redis;
  let broker: Mosquitto;
  let svc: ServiceProcess;
  let sub: Awaited<ReturnType<typeof mqttSubscriber>>;
  let prefix: string;

  beforeEach(async () => {
    prefix = uniquePrefix('mqtt-kill');
    redis = await startTestRedis();
    r = new Redis(redis.url);
    // The broker writes its sessions at every change, so the subscriber's session outlives the SIGKILL.
    broker = await Mosquitto.start(true);
    sub = await mqttSubscriber(broker.url, 'vision/plant/#', `sub-${prefix}`);
    const siteFile = join(mkdtempSync(join(tmpdir(), 'site-')), 'site.json');
    writeFileSync(
      siteFile,
      JSON.stringify({
        models: { synthetic: ['person', 'car'] },
        cameras: {
          'cam-1': { model: 'synthetic', rules: [{ id: 'gate', type: 'line', from: [0.5, 0.95], to: [0.5, 0.05] }] },
        },
      }),
    );
    svc = await startService('events', {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      RESULTS_SHARDS: String(SHARDS),
      EVENTS_SITE: 'plant',
      EVENTS_SITE_FILE: siteFile,
      EVENTS_MQTT_URL: broker.url,
      EVENTS_REORDER_MS: '300',
    });
    await svc.waitForLog((l) => l['msg'] === 'MQTT connected');
  });

  afterEach(async () => {
    await svc?.kill('SIGKILL');
    sub?.client.end(true);
    await broker?.stop('SIGKILL');
    r?.disconnect();
    await cleanupPrefix(redis.url, prefix);
    await redis?.stop();
  });

  it('delivers every event committed during and after the outage, each as on the events stream', async () => {
    const entries = frames('cam-1', movers, FRAMES, Date.now(), FPS);
    let killedAt = 0;
    let restartedAt = 0;
    const start = Date.now();
    for (let i = 0; i < FRAMES; i++) {
      await appendResults(r, prefix, SHARDS, 10_000, [entries[i]]);
      if (i === KILL_AT) {
        killedAt = Date.now();
        await broker.stop('SIGKILL');
      }
      if (i === RESTART_AT) {
        await broker.restart();
        restartedAt = Date.now();
      }
      await sleep(start + (i + 1) * (1000 / FPS) - Date.now());
    }

    // Every event with its commit time: the events stream's entry id.
    const stored = async () =>
      (await r.xrange(`${prefix}:events:stream:${resultsShard('cam-1', SHARDS)}`, '-', '+')).map(([id, f]) => ({
        at: Number(id.split('-')[0]),
        json: f[f.indexOf('event') + 1],
      }));
    await sleep(1000); // the last frames leave the reorder window
    const all = await stored();
    const during = all.filter((e) => e.at >= killedAt && e.at < restartedAt);
    const owed = all.filter((e) => e.at >= killedAt);
    // The outage held events back: some were committed while the broker was down.
    expect(during.length).toBeGreaterThanOrEqual(2);
    const ids = new Set(owed.map((e) => (JSON.parse(e.json) as { id: string }).id));
    const got = await waitFor(
      'every event of the outage and after it on MQTT',
      () => sub.messages,
      (m) => [...ids].every((id) => m.some((x) => x.body['id'] === id)),
      20_000,
    );
    // At least once, and a repeat is the same event.
    const byId = new Map(all.map((e) => [(JSON.parse(e.json) as { id: string }).id, e.json]));
    for (const m of got) expect(JSON.stringify(m.body)).toBe(byId.get(m.body['id'] as string));
    expect(svc.logs.filter((l) => l['msg'] === 'MQTT connected').length).toBeGreaterThanOrEqual(2);
    const before = all.length - owed.length;
    const seenBefore = all.filter((e) => e.at < killedAt && got.some((m) => JSON.stringify(m.body) === e.json)).length;
    console.log(
      `mqtt after SIGKILL: ${all.length} events (${before} before the kill, ${seenBefore} of them received; ` +
        `${during.length} during the outage), ${got.length} deliveries`,
    );
  });
});
