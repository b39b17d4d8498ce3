import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { appendResults } from '@vision/results-stream';
import {
  cleanupPrefix,
  signTestToken,
  startService,
  startTestRedis,
  TEST_JWT_SECRET,
  uniquePrefix,
  type ServiceProcess,
  type TestRedis,
} from '@vision/testing';
import { frames, waitFor, type Mover } from './harness';

// x 320..960, y 288..684 of the harness's 1280x720 frames.
const LOBBY = [
  [0.25, 0.4],
  [0.75, 0.4],
  [0.75, 0.95],
  [0.25, 0.95],
];

/**
 * The example rule type through the service: set over the API, drawn on the feed, evaluated on the
 * results stream, its events on the feed and in the recent events. Adding it took one file and one
 * registration line; nothing here knows more about it than a client would.
 */
describe('a crowd rule through the events API', () => {
  let redis: TestRedis;
  let r: Redis;
  let svc: ServiceProcess;
  let prefix: string;

  beforeAll(async () => {
    redis = await startTestRedis();
    r = new Redis(redis.url);
    prefix = uniquePrefix('events-crowd');
    const siteFile = join(mkdtempSync(join(tmpdir(), 'site-')), 'site.json');
    writeFileSync(
      siteFile,
      JSON.stringify({ models: { synthetic: ['person', 'car'] }, cameras: { 'cam-1': { model: 'synthetic' } } }),
    );
    svc = await startService('events', {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      AUTH_DISABLED: '',
      JWT_SECRET: TEST_JWT_SECRET,
      EVENTS_SITE_FILE: siteFile,
      EVENTS_SITE_POLL_MS: '200',
      EVENTS_REORDER_MS: '200',
    });
  });

  afterAll(async () => {
    await svc?.kill('SIGKILL');
    await cleanupPrefix(redis.url, prefix);
    r?.disconnect();
    await redis?.stop();
  });

  it('is refused with the field named, set, drawn, and starts and ends a crowd on the feed', async () => {
    const base = `http://127.0.0.1:${svc.port}/v1/events`;
    const write = await signTestToken({ sub: 'ops', scope: 'events:write' });
    const read = await signTestToken({ sub: 'ops', scope: 'events:read' });
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const lobby = { id: 'lobby', type: 'crowd', polygon: LOBBY, classes: ['person'], threshold: 2 };

    expect(await call('PUT', '/cameras/cam-1/rules/lobby', write, { ...lobby, threshold: undefined })).toMatchObject({
      status: 400,
      body: { error: { code: 'E_BAD_RULE', field: 'threshold' } },
    });
    expect(await call('PUT', '/cameras/cam-1/rules/lobby', write, { ...lobby, type: 'loiter' })).toMatchObject({
      status: 400,
      body: { error: { code: 'E_BAD_RULE', field: 'type', message: expect.stringMatching(/zone, line, crowd/) } },
    });
    expect(await call('PUT', '/cameras/cam-1/rules/lobby', write, lobby)).toMatchObject({
      status: 200,
      body: { rule: { id: 'lobby', type: 'crowd', threshold: 2, exitInertia: 2, source: 'api' } },
    });

    const ws = new WebSocket(`ws://127.0.0.1:${svc.port}/ws/events`, ['events.v1', `bearer.${read}`]);
    const got: Record<string, unknown>[] = [];
    ws.on('message', (m) => got.push(JSON.parse(String(m)) as Record<string, unknown>));
    await new Promise((res, rej) => (ws.once('open', res), ws.once('error', rej)));
    const hello = await waitFor('hello', () => got.find((m) => m['type'] === 'hello'), Boolean);
    const [camera] = hello!['cameras'] as { camera: string; rules: Record<string, unknown>[] }[];
    expect(camera.rules).toMatchObject([
      { id: 'lobby', type: 'crowd', draw: { points: LOBBY, closed: true, label: '{total}/2' } },
    ]);

    // Two people walk into the lobby and stay until they vanish; their tracks end 2 s (capture time) later.
    const walk = (y: number, f0: number): Mover => ({
      cls: 0,
      w: 50,
      h: 120,
      a: [200, y],
      b: [500, y],
      f0,
      f1: f0 + 40,
    });
    await appendResults(r, prefix, 8, 1000, frames('cam-1', [walk(400, 0), walk(560, 5)], 90, Date.now(), 10));
    const crowdEvents = () =>
      got
        .filter((m) => m['type'] === 'event')
        .map((m) => m['event'] as { kind: string; counts?: { total: number } })
        .filter((e) => e.kind.startsWith('crowd.'));
    const events = await waitFor('the crowd to start and end', crowdEvents, (e) => e.length >= 2);
    expect(events.map((e) => [e.kind, e.counts?.total])).toEqual([
      ['crowd.start', 2],
      ['crowd.end', 1],
    ]);
    ws.close();

    const recent = await call('GET', '/recent?camera=cam-1&limit=10', read);
    expect((recent.body['events'] as { kind: string }[]).map((e) => e.kind)).toEqual([
      'count',
      'count',
      'crowd.end',
      'count',
      'crowd.start',
      'count',
    ]);
    expect(await call('GET', '/cameras/cam-1/counts', read)).toMatchObject({
      status: 200,
      body: { counts: { lobby: { total: 0, byClass: {} } } },
    });
  }, 30_000);
});
