import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendResults } from '@vision/results-stream';
import { cleanupPrefix, startService, startTestRedis, uniquePrefix, type TestRedis } from '@vision/testing';
import { frames, waitFor, webhookReceiver, WEBHOOK_SECRET } from './harness';

/**
 * Site-file webhooks are checked when each delivery connects: a host name that resolves inside the
 * site (this machine's own name, as measured) is refused unless EVENTS_WEBHOOK_HOSTS lists it.
 * The receiver listens on loopback only.
 */
describe('events webhooks by host name', () => {
  let redis: TestRedis;
  let r: Redis;
  let hook: Awaited<ReturnType<typeof webhookReceiver>>;
  const prefixes: string[] = [];
  const name = hostname();

  beforeAll(async () => {
    redis = await startTestRedis();
    r = new Redis(redis.url);
    hook = await webhookReceiver();
  });

  afterAll(async () => {
    hook?.server.close();
    r?.disconnect();
    for (const p of prefixes) await cleanupPrefix(redis.url, p);
    await redis.stop();
  });

  /** An events service whose site file sends cam-1's events to this host's name; one walk across the gate. */
  const run = async (env: Record<string, string>) => {
    const prefix = uniquePrefix('evhook');
    prefixes.push(prefix);
    const dir = mkdtempSync(join(tmpdir(), 'site-'));
    const url = hook.url.replace('127.0.0.1', name);
    const site = {
      models: { synthetic: ['person', 'car'] },
      cameras: {
        'cam-1': { model: 'synthetic', rules: [{ id: 'gate', type: 'line', from: [0.5, 0.95], to: [0.5, 0.05] }] },
      },
      webhooks: [{ id: 'ops', url }],
    };
    writeFileSync(join(dir, 'site.json'), JSON.stringify(site));
    const svc = await startService('events', {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      RESULTS_SHARDS: '1',
      EVENTS_SITE_FILE: join(dir, 'site.json'),
      EVENTS_WEBHOOK_SECRET: WEBHOOK_SECRET,
      EVENTS_REORDER_MS: '300',
      ...env,
    });
    const walk = frames(
      'cam-1',
      [{ cls: 0, w: 50, h: 120, a: [200, 600], b: [1260, 600], f0: 0, f1: 29 }],
      30,
      Date.now() - 20_000,
      10,
    );
    await appendResults(r, prefix, 1, 10_000, walk);
    return svc;
  };

  it("refuses this host's own name at connect time, naming the host; drops the batch without retrying", async () => {
    const requests = hook.requests;
    const svc = await run({});
    try {
      const line = await svc.waitForLog((l) => l['msg'] === 'webhook refused, or failed every attempt; batch dropped');
      expect(String(line['err'])).toMatch(new RegExp(`^webhook host ${name} resolves to [^ ]+, inside the site`));
      const metrics = await (await fetch(`http://127.0.0.1:${svc.metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/^vision_events_deliveries_total\{output="webhook",outcome="dropped"\} [1-9]/m);
      expect(metrics).not.toMatch(/outcome="retried"/);
      expect(hook.requests).toBe(requests);
    } finally {
      await svc.kill('SIGKILL');
    }
  });

  it('delivers to the same name when EVENTS_WEBHOOK_HOSTS lists it', async () => {
    const before = hook.events.length;
    const svc = await run({ EVENTS_WEBHOOK_HOSTS: name });
    try {
      const got = await waitFor(
        'webhook events',
        () => hook.events.slice(before),
        (e) => e.length >= 2,
      );
      expect(got.map((e) => e['kind'])).toEqual(['line.cross', 'count']);
      expect(hook.bad).toBe(0);
    } finally {
      await svc.kill('SIGKILL');
    }
  });
});
