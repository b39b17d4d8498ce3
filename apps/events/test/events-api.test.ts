import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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
  sleep,
} from '@vision/testing';
import { frames, waitFor } from './harness';

const gate = { id: 'gate', type: 'line', from: [0.5, 0.95], to: [0.5, 0.05] };

// Each test has a service, a prefix and a site file of its own (the Redis server is shared, keys are not).
describe('events API and WebSocket feed, with authentication', () => {
  let redis: TestRedis;
  let r: Redis;
  let svc: ServiceProcess;
  let base: string;
  let siteFile: string;
  let prefix: string;
  const token = (scope: string, streams?: string[]) =>
    signTestToken({ sub: 'ops', scope, ...(streams ? { streams } : {}) });
  const call = async (method: string, path: string, tok?: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(tok ? { authorization: `Bearer ${tok}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return {
      status: res.status,
      body: res.status === 204 ? undefined : ((await res.json()) as Record<string, unknown>),
    };
  };
  const site = (rules: unknown[]) =>
    JSON.stringify({ models: { synthetic: ['person', 'car'] }, cameras: { 'cam-1': { model: 'synthetic', rules } } });
  /** Makes `camera` known the way production does: a frame of it on the results stream. */
  const seeCamera = async (camera: string) => {
    const w = await token('events:write');
    await appendResults(
      r,
      prefix,
      8,
      1000,
      frames(camera, [], 1, Date.now(), 10).map((e) => ({ ...e, dets: [[1, 1, 5, 5, 0.5, 1]] })),
    );
    await waitFor(
      `${camera} to be known`,
      () => call('PUT', `/cameras/${camera}/rules/gate`, w, { ...gate, classes: ['car'] }),
      (x) => x.status === 200,
    );
  };

  beforeAll(async () => {
    redis = await startTestRedis();
    r = new Redis(redis.url);
  });

  afterAll(async () => {
    r?.disconnect();
    await redis?.stop();
  });

  beforeEach(async () => {
    prefix = uniquePrefix('events-api');
    siteFile = join(mkdtempSync(join(tmpdir(), 'site-')), 'site.json');
    writeFileSync(siteFile, site([gate]));
    svc = await startService('events', {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      AUTH_DISABLED: '',
      JWT_SECRET: TEST_JWT_SECRET,
      EVENTS_SITE_FILE: siteFile,
      EVENTS_SITE_POLL_MS: '200',
      EVENTS_REORDER_MS: '200',
    });
    base = `http://127.0.0.1:${svc.port}/v1/events`;
  });

  afterEach(async () => {
    await svc?.kill('SIGKILL');
    await cleanupPrefix(redis.url, prefix);
  });

  it('needs a token, and the scope for what it does', async () => {
    expect(await call('GET', '/cameras')).toMatchObject({ status: 401, body: { error: { code: 'E_UNAUTHORIZED' } } });
    expect(await call('GET', '/cameras', 'not-a-jwt')).toMatchObject({ status: 401 });
    expect(await call('GET', '/cameras', await token('cameras:write'))).toMatchObject({
      status: 403,
      body: { error: { code: 'E_FORBIDDEN' } },
    });
    expect(
      await call('PUT', '/cameras/cam-1/rules/z', await token('events:read'), {
        type: 'zone',
        polygon: [
          [0, 0],
          [1, 0],
          [0, 1],
        ],
      }),
    ).toMatchObject({ status: 403 });
    expect(await call('GET', '/cameras', await token('events:read'))).toMatchObject({
      status: 200,
      body: { cameras: [{ camera: 'cam-1', rules: 1 }] },
    });
  });

  it('refuses bad rules with an error naming the field', async () => {
    const w = await token('events:write');
    const put = (camera: string, id: string, rule: object) => call('PUT', `/cameras/${camera}/rules/${id}`, w, rule);
    expect(
      await put('cam-1', 'z', {
        type: 'zone',
        polygon: [
          [0, 0],
          [1, 1],
          [1, 0],
          [0, 1],
        ],
      }),
    ).toMatchObject({ status: 400, body: { error: { code: 'E_BAD_RULE', field: 'polygon' } } });
    expect(await put('cam-1', 'l', { type: 'line', from: [0.3, 0.3], to: [0.3, 0.3] })).toMatchObject({
      status: 400,
      body: { error: { code: 'E_BAD_RULE', field: 'to' } },
    });
    expect(await put('cam-1', 'l', { type: 'line', from: [0, 0], to: [1, 1], classes: ['forklift'] })).toMatchObject({
      status: 422,
      body: { error: { code: 'E_UNKNOWN_CLASS', field: 'classes[0]' } },
    });
    expect(await put('nowhere', 'l', { type: 'line', from: [0, 0], to: [1, 1] })).toMatchObject({
      status: 404,
      body: { error: { code: 'E_UNKNOWN_CAMERA', field: 'camera' } },
    });
    expect(await put('cam-1', 'gate', { type: 'line', from: [0, 0], to: [1, 1] })).toMatchObject({
      status: 400,
      body: { error: { field: 'id' } },
    });
    expect(await put('cam-1', 'l', { type: 'line', from: [0, 0], to: [1, 1], colour: 'red' })).toMatchObject({
      status: 400,
      body: { error: { code: 'E_BAD_RULE' } },
    });
    const bad = await fetch(`${base}/cameras/cam-1/rules/l`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${w}`, 'content-type': 'application/json' },
      body: '{"type":',
    });
    expect([bad.status, await bad.json()]).toEqual([
      400,
      { error: { code: 'E_BAD_REQUEST', message: 'the body is not JSON' } },
    ]);
    const untyped = await fetch(`${base}/cameras/cam-1/rules/l`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${w}`, 'content-type': 'text/plain' },
      body: JSON.stringify({ type: 'line', from: [0, 0], to: [1, 1] }),
    });
    expect([untyped.status, ((await untyped.json()) as { error: { code: string } }).error.code]).toEqual([
      415,
      'E_UNSUPPORTED_MEDIA_TYPE',
    ]);
    expect(await call('POST', '/cameras/cam-1/rules/l', w)).toMatchObject({
      status: 405,
      body: { error: { code: 'E_METHOD_NOT_ALLOWED' } },
    });
    expect(await call('GET', '/nothing', w)).toMatchObject({ status: 404, body: { error: { code: 'E_NO_ROUTE' } } });
  });

  it('puts and deletes rules; a camera seen on the results stream becomes known', async () => {
    const w = await token('events:write');
    const bay = {
      type: 'zone',
      polygon: [
        [0.6, 0.5],
        [0.9, 0.5],
        [0.9, 0.95],
        [0.6, 0.95],
      ],
      classes: ['person'],
      dwellS: 30,
    };
    expect(await call('PUT', '/cameras/cam-1/rules/bay', w, bay)).toMatchObject({
      status: 200,
      body: { rule: { id: 'bay', source: 'api', anchor: 'bottom-center', inertia: 2 } },
    });
    const listed = await call('GET', '/cameras/cam-1/rules', await token('events:read'));
    expect((listed.body!['rules'] as { id: string; source: string }[]).map((x) => `${x.id}:${x.source}`)).toEqual([
      'gate:file',
      'bay:api',
    ]);

    // Unknown until a frame of it is read; then known, with its model's classes.
    expect(await call('PUT', '/cameras/cam-2/rules/gate', w, gate)).toMatchObject({ status: 404 });
    await seeCamera('cam-2');
    // A token limited to cam-1 may not touch cam-2.
    expect(await call('DELETE', '/cameras/cam-2/rules/gate', await token('events:write', ['cam-1']))).toMatchObject({
      status: 403,
    });

    expect(await call('DELETE', '/cameras/cam-1/rules/gate', w)).toMatchObject({
      status: 409,
      body: { error: { code: 'E_RULE_IN_SITE_FILE' } },
    });
    expect((await call('DELETE', '/cameras/cam-2/rules/gate', w)).status).toBe(204);
    expect((await call('DELETE', '/cameras/cam-2/rules/gate', w)).status).toBe(404);
  });

  it("feeds a token's cameras' events and tracks over /ws/events; serves counts and recent events", async () => {
    await seeCamera('cam-2');
    expect((await call('PUT', '/cameras/cam-2/rules/gate', await token('events:write'), gate)).status).toBe(200);
    // Without a token the upgrade is refused.
    const refused = new WebSocket(`ws://127.0.0.1:${svc.port}/ws/events`);
    expect(await new Promise((res) => refused.on('unexpected-response', (_q, m) => res(m.statusCode)))).toBe(401);

    const ws = new WebSocket(`ws://127.0.0.1:${svc.port}/ws/events`, [
      'events.v1',
      `bearer.${await token('events:read', ['cam-1'])}`,
    ]);
    const got: Record<string, unknown>[] = [];
    ws.on('message', (m) => got.push(JSON.parse(String(m)) as Record<string, unknown>));
    await new Promise((res, rej) => (ws.once('open', res), ws.once('error', rej)));
    const hello = await waitFor('hello', () => got.find((m) => m['type'] === 'hello'), Boolean);
    expect((hello!['cameras'] as { camera: string }[]).map((c) => c.camera)).toEqual(['cam-1']);
    await sleep(2500); // the owner checks for feed subscribers every 2 s before publishing tracks

    const walk = (camera: string) =>
      frames(camera, [{ cls: 0, w: 50, h: 120, a: [300, 600], b: [700, 600], f0: 0, f1: 29 }], 30, Date.now(), 10);
    await appendResults(r, prefix, 8, 1000, [...walk('cam-1'), ...walk('cam-2')]);
    const events = await waitFor(
      'the crossing on the feed',
      () => got.filter((m) => m['type'] === 'event'),
      (e) => e.length >= 2,
    );
    await sleep(500);
    expect(
      got.filter((m) => m['type'] === 'event').map((m) => (m['event'] as { camera: string; kind: string }).kind),
    ).toEqual(['line.cross', 'count']);
    expect(events.every((m) => (m['event'] as { camera: string }).camera === 'cam-1')).toBe(true);
    const tracks = got.filter((m) => m['type'] === 'tracks');
    expect(tracks.length).toBeGreaterThan(10);
    expect(tracks.every((m) => m['camera'] === 'cam-1')).toBe(true);
    expect(tracks.at(-1)).toMatchObject({
      w: 1280,
      h: 720,
      tracks: [[1, 'person', expect.any(Number), expect.any(Number), expect.any(Number), expect.any(Number)]],
    });
    ws.close();

    const read = await token('events:read');
    expect(await call('GET', '/cameras/cam-1/counts', read)).toMatchObject({
      status: 200,
      body: { counts: { gate: { in: 1, out: 0 } } },
    });
    const recent = await call('GET', '/recent?camera=cam-1&limit=5', read);
    expect((recent.body!['events'] as { kind: string }[]).map((e) => e.kind)).toEqual(['count', 'line.cross']);
    expect(await call('GET', '/recent', read)).toMatchObject({ status: 400, body: { error: { field: 'camera' } } });
  });

  it('delivers an event committed the moment hello arrives, each time the feed starts', async () => {
    const read = await token('events:read');
    for (let k = 0; k < 8; k++) {
      const ws = new WebSocket(`ws://127.0.0.1:${svc.port}/ws/events`, ['events.v1', `bearer.${read}`]);
      const got: Record<string, unknown>[] = [];
      ws.on('message', (m) => {
        const message = JSON.parse(String(m)) as Record<string, unknown>;
        got.push(message);
        // The feed's first client: its reader starts with this connection.
        if (message['type'] === 'hello')
          void r.xadd(
            `${prefix}:events:stream:0`,
            '*',
            'camera',
            'cam-1',
            'event',
            JSON.stringify({ kind: 'probe', n: k }),
          );
      });
      await waitFor(
        `probe event ${k}`,
        () => got.filter((m) => m['type'] === 'event'),
        (events) => events.length > 0,
        3000,
      );
      ws.close();
      // Until the feed has no client and its reader stops: the next connection starts it afresh.
      await sleep(300);
    }
  });

  it('reloads the site file live, and keeps the last good one when a new one is bad', async () => {
    const read = await token('events:read');
    const ids = async () =>
      ((await call('GET', '/cameras/cam-1/rules', read)).body!['rules'] as { id: string }[]).map((x) => x.id);
    writeFileSync(
      siteFile,
      site([
        gate,
        {
          id: 'dock',
          type: 'zone',
          polygon: [
            [0, 0],
            [0.2, 0],
            [0.2, 0.2],
          ],
        },
      ]),
    );
    await waitFor('the new rule', ids, (x) => x.includes('dock'));
    writeFileSync(
      siteFile,
      site([
        {
          id: 'dock',
          type: 'zone',
          polygon: [
            [0, 0],
            [1, 1],
            [1, 0],
            [0, 1],
          ],
        },
      ]),
    );
    const refused = await svc.waitForLog((l) => l['msg'] === 'site file refused; the last good one stays', 5000);
    expect(refused).toMatchObject({ code: 'E_BAD_RULE', field: 'cameras.cam-1.rules[0].polygon' });
    expect(await ids()).toEqual(['gate', 'dock']);
  });
});
