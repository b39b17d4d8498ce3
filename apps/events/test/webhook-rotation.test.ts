import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendResults } from '@vision/results-stream';
import {
  cleanupPrefix,
  startService,
  startTestRedis,
  uniquePrefix,
  type ServiceProcess,
  type TestRedis,
} from '@vision/testing';
import { frames, waitFor, webhookReceiver, WEBHOOK_SECRET } from './harness';

const NEW_SECRET = 'rotated-events-webhook-secret-0123456789';

/**
 * A webhook secret rotation (docs/tokens.md, "Webhook secrets"): the events service signs with the
 * new secret and the previous one, so a receiver that knows only one of them accepts every batch.
 */
describe('events webhooks during a secret rotation', () => {
  let redis: TestRedis;
  let r: Redis;
  let svc: ServiceProcess;
  let knowsNew: Awaited<ReturnType<typeof webhookReceiver>>;
  let knowsOld: Awaited<ReturnType<typeof webhookReceiver>>;
  const prefix = uniquePrefix('hook-rotate');

  beforeAll(async () => {
    redis = await startTestRedis();
    r = new Redis(redis.url);
    knowsNew = await webhookReceiver(0, 0, NEW_SECRET);
    knowsOld = await webhookReceiver(0, 0, WEBHOOK_SECRET);
    const dir = mkdtempSync(join(tmpdir(), 'site-'));
    const site = {
      models: { synthetic: ['person', 'car'] },
      cameras: {
        'cam-1': { model: 'synthetic', rules: [{ id: 'gate', type: 'line', from: [0.5, 0.95], to: [0.5, 0.05] }] },
      },
      webhooks: [
        { id: 'new', url: knowsNew.url },
        { id: 'old', url: knowsOld.url },
      ],
    };
    writeFileSync(join(dir, 'site.json'), JSON.stringify(site));
    svc = await startService('events', {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      RESULTS_SHARDS: '1',
      EVENTS_SITE_FILE: join(dir, 'site.json'),
      EVENTS_WEBHOOK_SECRET: NEW_SECRET,
      EVENTS_WEBHOOK_SECRET_PREVIOUS: WEBHOOK_SECRET,
      EVENTS_WEBHOOK_HOSTS: '127.0.0.1',
      EVENTS_REORDER_MS: '300',
    });
  });

  afterAll(async () => {
    await svc?.kill('SIGKILL');
    knowsNew?.server.close();
    knowsOld?.server.close();
    r?.disconnect();
    await cleanupPrefix(redis.url, prefix);
    await redis.stop();
  });

  it('a receiver that knows only the new secret and one that knows only the old one both verify', async () => {
    const walk = frames(
      'cam-1',
      [{ cls: 0, w: 50, h: 120, a: [200, 600], b: [1260, 600], f0: 0, f1: 29 }],
      30,
      Date.now(),
      10,
    );
    await appendResults(r, prefix, 1, 10_000, walk);
    for (const hook of [knowsNew, knowsOld])
      await waitFor(
        'the crossing',
        () => hook.events.length,
        (n) => n >= 2,
      );
    expect(knowsNew.events.map((e) => e['kind'])).toEqual(['line.cross', 'count']);
    expect(knowsOld.events.map((e) => e['kind'])).toEqual(['line.cross', 'count']);
    expect([knowsNew.bad, knowsOld.bad]).toEqual([0, 0]);
  });
});
