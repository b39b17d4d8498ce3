import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendResults, resultsShard } from '@vision/results-stream';
import {
  cleanupPrefix,
  startService,
  startTestRedis,
  uniquePrefix,
  type ServiceProcess,
  type TestRedis,
} from '@vision/testing';
import { frames, waitFor } from './harness';

const SHARDS = 2;
/** Two cameras on the same results stream number, each on its own Redis: the numbering must keep them apart. */
const CAMERAS = ['dock-a', 'yard-2'] as const;

/**
 * A site whose queue is sharded over two Redis instances (REDIS_URL=a,b): each shard's workers
 * append to their own Redis's results streams, and one events service processes both.
 */
describe('events service over two Redis shards', () => {
  const redis: TestRedis[] = [];
  const conns: Redis[] = [];
  let svc: ServiceProcess;
  const prefix = uniquePrefix('evshards');
  const t0 = Date.now() - 20_000;

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      redis.push(await startTestRedis({ own: true }));
      conns.push(new Redis(redis[i].url).on('error', () => undefined));
    }
    const gate = { id: 'gate', type: 'line', from: [0.5, 0.95], to: [0.5, 0.05] };
    const dir = mkdtempSync(join(tmpdir(), 'site-'));
    writeFileSync(
      join(dir, 'site.json'),
      JSON.stringify({
        models: { synthetic: ['person', 'car'] },
        cameras: Object.fromEntries([...CAMERAS, 'gate-c'].map((c) => [c, { model: 'synthetic', rules: [gate] }])),
      }),
    );
    svc = await startService('events', {
      REDIS_URL: redis.map((r) => r.url).join(','),
      REDIS_PREFIX: prefix,
      RESULTS_SHARDS: String(SHARDS),
      EVENTS_SITE_FILE: join(dir, 'site.json'),
      EVENTS_REORDER_MS: '300',
      EVENTS_LEASE_MS: '2000',
    });
  });

  afterAll(async () => {
    await svc?.kill('SIGKILL');
    for (const c of conns) c.disconnect();
    for (const r of redis) await cleanupPrefix(r.url, prefix).catch(() => undefined);
    for (const r of redis) await r.stop();
  });

  const recent = async (camera: string) =>
    (
      (await (await fetch(`http://127.0.0.1:${svc.port}/v1/events/recent?camera=${camera}`)).json()) as {
        events: { kind: string; rule: string; camera: string }[];
      }
    ).events;

  it('turns the results of cameras on either Redis into their events', async () => {
    expect(resultsShard(CAMERAS[0], SHARDS)).toBe(resultsShard(CAMERAS[1], SHARDS));
    // A person crosses the gate on each camera; each camera's worker writes to its own Redis.
    for (const [i, camera] of CAMERAS.entries()) {
      const walk = frames(
        camera,
        [{ cls: 0, w: 50, h: 120, a: [200, 600], b: [1260, 600], f0: 0, f1: 29 }],
        30,
        t0,
        10,
      );
      await appendResults(conns[i], prefix, SHARDS, 10_000, walk);
    }
    for (const camera of CAMERAS) {
      const events = await waitFor(
        `${camera}'s events`,
        () => recent(camera),
        (e) => e.length >= 2,
      );
      expect(events.map((e) => `${e.kind} ${e.rule} ${e.camera}`)).toEqual([
        `count gate ${camera}`,
        `line.cross gate ${camera}`,
      ]);
      const counts = (await (
        await fetch(`http://127.0.0.1:${svc.port}/v1/events/cameras/${camera}/counts`)
      ).json()) as {
        counts: unknown;
      };
      expect(counts.counts).toMatchObject({ gate: { in: 1, out: 0 } });
    }
    // The service's own state is on the first Redis: leases for every shard of both.
    const leases = await conns[0].keys(`${prefix}:events:lease:*`);
    expect(leases.sort()).toEqual([0, 1, 2, 3].map((s) => `${prefix}:events:lease:${s}`));
    expect(await conns[1].keys(`${prefix}:events:*`)).toEqual([]);
  });

  it('goes on with the first Redis while the second is down', async () => {
    await redis[1].down();
    try {
      const walk = frames(
        'gate-c',
        [{ cls: 0, w: 50, h: 120, a: [200, 600], b: [1260, 600], f0: 0, f1: 29 }],
        30,
        t0,
        10,
      );
      await appendResults(conns[0], prefix, SHARDS, 10_000, walk);
      const events = await waitFor(
        "gate-c's events",
        () => recent('gate-c'),
        (e) => e.length >= 2,
      );
      expect(events.map((e) => e.kind)).toEqual(['count', 'line.cross']);
      await svc.waitForLog((l) => l['msg'] === 'results stream unreadable; retrying');
    } finally {
      await redis[1].up();
    }
  });
});
