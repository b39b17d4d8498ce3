import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { expect } from 'vitest';
import { loadEventsConfig } from '@vision/config';
import { CameraPipeline, validateRule, type SiteEvent } from '@vision/events';
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
import { frames, Mosquitto, mqttSubscriber, waitFor, webhookReceiver, WEBHOOK_SECRET, crossingMovers } from './harness';

/** Two events instances (`a`, `b`) sharing two shards, with MQTT and a webhook: what the failover tests interrupt. */
export const SHARDS = 2;
export const FPS = 10;
export const FRAMES = 80;
export const REORDER_MS = 300;
export const rulesSpec = [
  { id: 'gate', type: 'line', from: [0.5, 0.95], to: [0.5, 0.05] },
  {
    id: 'yard',
    type: 'zone',
    polygon: [
      [0.55, 0.3],
      [0.95, 0.3],
      [0.95, 0.95],
      [0.55, 0.95],
    ],
  },
];

/** Two cameras on each shard. */
export function cameras(): string[] {
  const by: string[][] = [[], []];
  for (let i = 0; by.some((b) => b.length < 2); i++) {
    const c = `dock-${i}`;
    const s = resultsShard(c, SHARDS);
    if (by[s].length < 2) by[s].push(c);
  }
  return by.flat();
}

/** People crossing the gate every 1.6 s, alternating directions, on three lanes. */
export const movers = crossingMovers(5, 16);

/** What one uninterrupted owner makes of a camera's frames: the expected events, ids included. */
export function oracle(camera: string, entries: ResultsEntry[]): SiteEvent[] {
  const cfg = loadEventsConfig({});
  const ctx = { defaults: cfg.ruleDefaults, cameraKnown: () => true, classesOf: () => new Set(['person', 'car']) };
  const rules = rulesSpec.map((r, i) => validateRule(r, camera, ctx, `r${i}`, 'file'));
  const pipe = new CameraPipeline(
    camera,
    { site: 'plant', tracker: cfg.tracker, reorderMs: REORDER_MS, maxPending: 1024 },
    undefined,
    0,
  );
  const out: SiteEvent[] = [];
  for (const e of entries) {
    pipe.offer('0-1', e, 0);
    out.push(...pipe.drain(0, rules, false).events);
  }
  return [...out, ...pipe.drain(0, rules, false, true).events];
}

export interface FailoverSite {
  r: Redis;
  prefix: string;
  cams: string[];
  instances: Map<'a' | 'b', ServiceProcess>;
  /** The instance holding a shard's lease. */
  owner(shard: number): Promise<string | undefined>;
  /** Every event on the events streams. */
  stored(): Promise<SiteEvent[]>;
  hook: Awaited<ReturnType<typeof webhookReceiver>>;
  sub: Awaited<ReturnType<typeof mqttSubscriber>>;
  stop(): Promise<void>;
}

/**
 * Starts Redis, mosquitto, a slow webhook receiver and instances `a` and `b`, and waits until they own a shard
 * each.
 */
export async function startFailoverSite(name: string, leaseMs: number): Promise<FailoverSite> {
  const redis: TestRedis = await startTestRedis();
  const r = new Redis(redis.url);
  const prefix = uniquePrefix(name);
  const cams = cameras();
  const instances = new Map<'a' | 'b', ServiceProcess>();
  const broker = await Mosquitto.start();
  // Slow answers (1.5 s): an interrupted owner is likely stopped with a batch recorded here but its
  // cursor not yet moved, which the next owner then sends again (a repeat, checked to be the same events).
  const hook = await webhookReceiver(0, 1500);
  const sub = await mqttSubscriber(broker.url, 'vision/plant/#', `sub-${prefix}`);
  const stop = async () => {
    for (const p of instances.values()) p.proc.kill('SIGCONT');
    await Promise.all([...instances.values()].map((p) => p.kill('SIGKILL')));
    sub.client.end(true);
    await broker.stop('SIGKILL');
    hook.server.close();
    r.disconnect();
    await cleanupPrefix(redis.url, prefix);
    await redis.stop();
  };
  const dir = mkdtempSync(join(tmpdir(), 'site-'));
  writeFileSync(
    join(dir, 'site.json'),
    JSON.stringify({
      models: { synthetic: ['person', 'car'] },
      cameras: Object.fromEntries(cams.map((c) => [c, { model: 'synthetic', rules: rulesSpec }])),
      webhooks: [{ id: 'ops', url: hook.url }],
    }),
  );
  const env = (id: string) => ({
    REDIS_URL: redis.url,
    REDIS_PREFIX: prefix,
    RESULTS_SHARDS: String(SHARDS),
    EVENTS_INSTANCE_ID: id,
    EVENTS_SITE: 'plant',
    EVENTS_SITE_FILE: join(dir, 'site.json'),
    EVENTS_MQTT_URL: broker.url,
    EVENTS_WEBHOOK_SECRET: WEBHOOK_SECRET,
    EVENTS_WEBHOOK_HOSTS: '127.0.0.1',
    EVENTS_REORDER_MS: String(REORDER_MS),
    EVENTS_LEASE_MS: String(leaseMs),
    EVENTS_CHECKPOINT_MS: '200',
  });
  const owner = async (shard: number) => (await r.get(`${prefix}:events:lease:${shard}`))?.split(':')[0];
  const stored = async () => {
    const out: SiteEvent[] = [];
    for (let s = 0; s < SHARDS; s++)
      for (const [, f] of await r.xrange(`${prefix}:events:stream:${s}`, '-', '+'))
        out.push(JSON.parse(f[f.indexOf('event') + 1]) as SiteEvent);
    return out;
  };
  try {
    for (const id of ['a', 'b'] as const) instances.set(id, await startService('events', env(id)));
    await waitFor(
      'one shard each',
      async () => [await owner(0), await owner(1)].sort().join(),
      (v) => v === 'a,b',
      30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { r, prefix, cams, instances, owner, stored, hook, sub, stop };
}

/**
 * Appends the cameras' frames at their frame rate, calling `at(i)` after frame `i` (what the test
 * does to an owner); returns every camera's frames.
 */
export async function feed(site: FailoverSite, at: (i: number) => Promise<void> | void) {
  const streams = new Map(site.cams.map((c) => [c, frames(c, movers, FRAMES, Date.now(), FPS)]));
  const start = Date.now();
  for (let i = 0; i < FRAMES; i++) {
    await appendResults(
      site.r,
      site.prefix,
      SHARDS,
      10_000,
      site.cams.map((c) => streams.get(c)![i]),
    );
    await at(i);
    await sleep(start + (i + 1) * (1000 / FPS) - Date.now());
  }
  return streams;
}

/**
 * The events stream holds exactly what one uninterrupted owner makes of the same frames (each event
 * once per camera, in capture order, same ids); MQTT and the webhook delivered every event at least
 * once, a repeat byte-for-byte the same event.
 */
export async function expectUninterrupted(site: FailoverSite, streams: Map<string, ResultsEntry[]>): Promise<void> {
  const expected = new Map(site.cams.map((c) => [c, oracle(c, streams.get(c)!)]));
  const total = [...expected.values()].reduce((n, e) => n + e.length, 0);
  expect(total).toBeGreaterThan(30);
  const stored = await waitFor('every event on the events stream', site.stored, (e) => e.length >= total, 20_000);
  await sleep(500);
  for (const c of site.cams)
    expect(
      (await site.stored()).filter((e) => e.camera === c),
      c,
    ).toEqual(expected.get(c));
  expect(stored.length).toBe(total);

  const byId = new Map(stored.map((e) => [e.id, JSON.stringify(e)]));
  for (const [name, got] of [
    ['mqtt', () => site.sub.messages.map((m) => m.body)],
    ['webhook', () => site.hook.events],
  ] as const) {
    const seen = await waitFor(
      `${name} to deliver every event`,
      got,
      (m) => new Set(m.map((x) => x['id'])).size >= total,
      20_000,
    );
    expect(new Set(seen.map((x) => x['id'])), name).toEqual(new Set(byId.keys()));
    for (const m of seen) expect(JSON.stringify(m)).toBe(byId.get(m['id'] as string));
    console.log(`${name}: ${seen.length} deliveries of ${total} events (${seen.length - total} repeats)`);
  }
  expect(site.hook.bad).toBe(0);
}
