import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { VisionClient, type WebSocketLike } from '@vision/client';
import { COLORS, drawScene, signTestToken, TEST_JWT_SECRET, type ServiceProcess } from '@vision/testing';
import { startEventsSite, waitFor } from './harness';

const nodeWebSocket = (url: string, protocols: string[], headers: Record<string, string> | undefined) =>
  new WebSocket(url, protocols, { headers }) as unknown as WebSocketLike;
const STEPS = 16;

/** Frame i: a red square walks along row y 360, one 64 px cell to the right per frame, across the gate at x 640. */
const clipFrame = (i: number) =>
  drawScene({
    width: 1280,
    height: 720,
    format: 'png',
    rects: [{ x: 64 * (2 + i), y: 360, w: 64, h: 64, color: COLORS.red }],
  });

const rawOf = async (image: Buffer) => await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const meanAbsDiff = (a: Buffer, b: Buffer) => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
};

/**
 * Snapshots end to end with real parts: an SDK client streams PNG frames through an edge and a
 * worker on Redis; the worker keeps the frames of the camera with rules in the frame window; the
 * events service commits the crossing and stores the JPEG of the frame it was computed from.
 */
describe('snapshots: SDK client -> edge -> worker (frame window) -> events -> snapshot API', () => {
  let site: Awaited<ReturnType<typeof startEventsSite>>;
  let events: ServiceProcess;
  let dir: string;
  const sent: Buffer[] = [];
  let crossing: Record<string, unknown>;
  const token = (streams?: string[]) =>
    signTestToken({ sub: 'ops', scope: 'events:read', ...(streams ? { streams } : {}) });
  const get = async (path: string, streams?: string[]) =>
    fetch(`http://127.0.0.1:${events.port}${path}`, {
      headers: { authorization: `Bearer ${await token(streams)}` },
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapshots-'));
    site = await startEventsSite(
      'snapshots',
      {
        models: { default: ['red', 'green', 'blue'] },
        cameras: {
          'cam-snap': {
            model: 'default',
            rules: [{ id: 'gate', type: 'line', units: 'px', from: [640, 720], to: [640, 0], classes: ['red'] }],
          },
        },
      },
      { EVENTS_SNAPSHOT_DIR: dir, EVENTS_REORDER_MS: '1000', AUTH_DISABLED: '', JWT_SECRET: TEST_JWT_SECRET },
    );
    events = site.events;
    // The worker reads the frame window's policy once a second: let it see the camera before its first frame.
    await new Promise((r) => setTimeout(r, 1500));
    const client = new VisionClient({ url: `ws://127.0.0.1:${site.edge.port}/ws/detect`, webSocket: nodeWebSocket });
    const t0 = Date.now() - STEPS * 500;
    try {
      for (let i = 0; i < STEPS; i++) {
        sent.push(await clipFrame(i));
        const outcome = await client.send(sent[i], { streamId: 'cam-snap', captureTs: t0 + i * 500 });
        expect(outcome.status, JSON.stringify(outcome)).toBe('result');
      }
    } finally {
      client.close();
    }
    const recent = await waitFor(
      'the crossing',
      async () =>
        ((await (await get('/v1/events/recent?camera=cam-snap')).json()) as { events: Record<string, unknown>[] })
          .events,
      (e) => e.some((x) => x['kind'] === 'line.cross'),
      30_000,
    );
    crossing = recent.find((x) => x['kind'] === 'line.cross')!;
  });

  afterAll(() => site?.stop());

  it("stores the JPEG of the very frame the crossing was computed from, and the crop of the event's box", async () => {
    expect(crossing['snapshot']).toBe(`/v1/events/${String(crossing['id'])}/snapshot`);
    const res = await waitFor(
      'the stored snapshot',
      () => get(String(crossing['snapshot'])),
      (r) => r.status !== 503,
      10_000,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('x-vision-frame')).toBe(String(crossing['frame']));
    expect(res.headers.get('x-vision-capture-ts')).toBe(String(crossing['ts']));
    const picture = Buffer.from(await res.arrayBuffer());
    expect((await sharp(picture).metadata()).format).toBe('jpeg');
    const shown = await rawOf(picture);
    expect([shown.info.width, shown.info.height]).toEqual([1280, 720]);
    // Of every frame sent, the snapshot is nearest to the one the event names (the SDK numbers frames from 1).
    const diffs = await Promise.all(sent.map(async (f) => meanAbsDiff(shown.data, (await rawOf(f)).data)));
    const nearest = diffs.indexOf(Math.min(...diffs));
    expect(nearest + 1).toBe(crossing['frame']);
    expect(diffs[nearest]).toBeLessThan(2);

    const cropRes = await get(`${String(crossing['snapshot'])}?crop=true`);
    expect(cropRes.status).toBe(200);
    const crop = await rawOf(Buffer.from(await cropRes.arrayBuffer()));
    const box = crossing['box'] as number[];
    expect(Math.abs(crop.info.width - (box[2] - box[0]))).toBeLessThanOrEqual(2);
    expect(Math.abs(crop.info.height - (box[3] - box[1]))).toBeLessThanOrEqual(2);
    // The box is the red square: the crop's pixels are red.
    let red = 0;
    for (let i = 0; i < crop.data.length; i += 3)
      if (crop.data[i] > 180 && crop.data[i + 1] < 80 && crop.data[i + 2] < 80) red++;
    expect(red / (crop.info.width * crop.info.height)).toBeGreaterThan(0.8);
  });

  it('answers unknown events 404, cameras outside the token 403, a snapshot being written 503', async () => {
    const unknown = await get('/v1/events/ev_AAAAAAAAAAAAAAAAAAAAAA/snapshot');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('E_NOT_FOUND');
    const malformed = await get('/v1/events/..%2F..%2Fetc/snapshot');
    expect(malformed.status).toBe(404);

    const outside = await get(String(crossing['snapshot']), ['cam-other']);
    expect(outside.status).toBe(403);
    expect(((await outside.json()) as { error: { code: string } }).error.code).toBe('E_FORBIDDEN');

    // A record as the writer leaves it between the commit and the picture.
    const id = 'ev_BBBBBBBBBBBBBBBBBBBBBB';
    mkdirSync(join(dir, 'BB'), { recursive: true });
    const record = { id, camera: 'cam-snap', ts: 1, frame: 1, box: [0, 0, 1, 1], committedAt: Date.now() };
    writeFileSync(join(dir, 'BB', `${id}.json`), JSON.stringify({ ...record, state: 'pending' }));
    const pending = await get(`/v1/events/${id}/snapshot`);
    expect(pending.status).toBe(503);
    expect(pending.headers.get('retry-after')).toBe('1');
    expect(((await pending.json()) as { error: { code: string } }).error.code).toBe('E_SNAPSHOT_PENDING');
    writeFileSync(join(dir, 'BB', `${id}.json`), JSON.stringify({ ...record, state: 'failed', reason: 'disk_full' }));
    const failed = await get(`/v1/events/${id}/snapshot`);
    expect(failed.status).toBe(404);
    const body = (await failed.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('E_SNAPSHOT_UNAVAILABLE');
    expect(body.error.message).toContain('disk_full');
  });
});

/** The same clip with the snapshot store on a full filesystem: snapshots fail, counted; events do not. */
describe('snapshots: a full disk', () => {
  let site: Awaited<ReturnType<typeof startEventsSite>>;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapshots-full-'));
    // A real filesystem that is full: a 64 KiB tmpfs (the tests run as root, like CI).
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    try {
      writeFileSync(join(dir, 'filler'), Buffer.alloc(128 * 1024));
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    site = await startEventsSite(
      'snapshots-full',
      {
        models: { default: ['red', 'green', 'blue'] },
        cameras: {
          'cam-full': {
            model: 'default',
            rules: [{ id: 'gate', type: 'line', units: 'px', from: [640, 720], to: [640, 0], classes: ['red'] }],
          },
        },
      },
      { EVENTS_SNAPSHOT_DIR: dir, EVENTS_REORDER_MS: '1000' },
    );
  });

  afterAll(async () => {
    await site?.stop();
    execFileSync('umount', [dir]);
  });

  it('counts and logs each failed snapshot, and the events still flow', async () => {
    await new Promise((r) => setTimeout(r, 1500));
    const client = new VisionClient({ url: `ws://127.0.0.1:${site.edge.port}/ws/detect`, webSocket: nodeWebSocket });
    const t0 = Date.now() - STEPS * 500;
    try {
      for (let i = 0; i < STEPS; i++)
        expect((await client.send(await clipFrame(i), { streamId: 'cam-full', captureTs: t0 + i * 500 })).status).toBe(
          'result',
        );
    } finally {
      client.close();
    }
    const base = `http://127.0.0.1:${site.events.port}`;
    const recent = await waitFor(
      'the crossing',
      async () =>
        (
          (await (await fetch(`${base}/v1/events/recent?camera=cam-full`)).json()) as {
            events: Record<string, unknown>[];
          }
        ).events,
      (e) => e.some((x) => x['kind'] === 'line.cross'),
      30_000,
    );
    const crossing = recent.find((x) => x['kind'] === 'line.cross')!;
    const metrics = await waitFor(
      'the failure counted',
      async () => (await fetch(`http://127.0.0.1:${site.events.metricsPort}/metrics`)).text(),
      (m) => /^vision_events_snapshots_total\{outcome="disk_full"\} [1-9]/m.test(m),
    );
    expect(metrics).not.toMatch(/^vision_events_snapshots_total\{outcome="stored"\}/m);
    const answer = await fetch(`${base}${String(crossing['snapshot'])}`);
    expect(answer.status).toBe(404);
    expect(site.events.logs.some((l) => l['kind'] === 'E_SNAPSHOT_DISK_FULL' && l['event'] === crossing['id'])).toBe(
      true,
    );
  });
});
