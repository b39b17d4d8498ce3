import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken, RedisRevocations } from '@vision/auth';
import {
  drawScene,
  LoadClient,
  startStateSite,
  STATE_SITE_CAMERAS,
  STATE_SITE_CLIP_FRAME_MS,
  stateSiteClip,
  TEST_JWT_SECRET,
  type Books,
  type StateSite,
} from '@vision/testing';
import { allEvents, readState, tally, type StateSnapshot } from './state-snapshot';

const SHARDS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bay = {
  id: 'bay',
  type: 'zone',
  units: 'px',
  classes: ['blue'],
  polygon: [
    [960, 64],
    [1152, 64],
    [1152, 256],
    [960, 256],
  ],
};

/**
 * Issue 29's restart test, with real processes: a site whose state Redis (append-only file, fsync each
 * second) is SIGKILLed and started again on its data while four cameras stream through an edge and a
 * worker on the frame Redis, with an events service counting them. Everything the site built up is back,
 * the frame path never stops, and the state Redis writes next to nothing per camera frame.
 */
describe('state Redis restart', () => {
  let site: StateSite;
  let pictures: Awaited<ReturnType<typeof stateSiteClip>>;
  let auth: Record<string, string>;
  const clients: LoadClient[] = [];
  // Nothing in view: as fast as the site answers; the clip: at its pace, one frame open per camera.
  const stream = (images?: Buffer[]) =>
    STATE_SITE_CAMERAS.map((streamId) => {
      const pace = images ? { intervalMs: STATE_SITE_CLIP_FRAME_MS, maxInFlight: 1 } : { intervalMs: 60 };
      const c = new LoadClient({
        urls: [site.detectUrl],
        streamId,
        headers: auth,
        image: pictures.empty,
        images,
        ...pace,
      });
      clients.push(c);
      c.start();
      return c;
    });
  const answered = (cs: LoadClient[]) => cs.reduce((n, c) => n + c.log.length, 0);
  const edge = (path: string, init: RequestInit = {}) => fetch(`http://127.0.0.1:${site.edge.port}${path}`, init);
  const eventsApi = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${site.events.port}/v1/events${path}`, init);

  beforeAll(async () => {
    [site, pictures] = await Promise.all([startStateSite('state-restart'), stateSiteClip()]);
    auth = {
      authorization: `Bearer ${(await mintToken({ subject: 'depot', ttlS: 600 }, { secret: TEST_JWT_SECRET })).token}`,
    };
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop(0)));
    await site?.stop();
  });

  it(
    'brings back rules, counts, events, checkpoints, revocations and jobs; frames never stop',
    { timeout: 60_000 },
    async () => {
      // What a site builds up: an API rule, a revoked token, a queued bulk job.
      const put = await eventsApi('/cameras/cam-0/rules/bay', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(bay),
      });
      expect(put.status, await put.clone().text()).toBe(200);
      const revoked = await mintToken({ subject: 'depot', ttlS: 600 }, { secret: TEST_JWT_SECRET });
      const list = new RedisRevocations({ target: site.state.url, prefix: site.prefix });
      await list.revoke(revoked.tokenId, revoked.expiresAt);
      await list.close();
      const refusal = async () => {
        const r = await edge('/v1/detect?model=colors', {
          method: 'POST',
          headers: { authorization: `Bearer ${revoked.token}`, 'content-type': 'image/jpeg' },
          body: new Uint8Array(pictures.empty),
        });
        return { status: r.status, code: ((await r.json()) as { error?: { code: string } }).error?.code };
      };
      expect(await refusal()).toEqual({ status: 401, code: 'E_TOKEN_REVOKED' });
      const form = new FormData();
      // A PNG: a job's images are state (kept until it runs), unlike the cameras' JPEG frames looked for below.
      const photo = await drawScene({ width: 320, height: 240, format: 'png' });
      form.append('image', new Blob([new Uint8Array(photo)], { type: 'image/png' }), 'a.png');
      const upload = await edge('/v1/jobs?model=topology', { method: 'POST', headers: auth, body: form });
      expect(upload.status).toBe(202);
      const job = { id: ((await upload.json()) as { id: string }).id, model: 'topology' };

      // Four cameras with nothing in view: frames flow, no events; the state Redis's append-only file
      // grows only by the events service's checkpoints and leases, not by any frame.
      const quiet = stream();
      await expect.poll(() => Math.min(...quiet.map((c) => c.log.length)), { timeout: 15_000 }).toBeGreaterThan(3);
      const [aof0, frames0] = [site.state.aofBytes(), answered(quiet)];
      await sleep(3000);
      const [aof1, frames1] = [site.state.aofBytes(), answered(quiet)];
      const perFrame = (aof1 - aof0) / (frames1 - frames0);
      console.log(
        `state AOF: ${aof1 - aof0} bytes over ${frames1 - frames0} camera frames of ${pictures.empty.length} bytes ` +
          `(${perFrame.toFixed(1)} bytes per frame)`,
      );
      expect(frames1 - frames0).toBeGreaterThan(20);
      // What grows is the events service's per-second checkpoints, not frames: a hundredth of a frame each.
      expect(perFrame).toBeLessThan(pictures.empty.length / 100);
      const aof = join(site.state.dir, 'appendonlydir');
      const written = Buffer.concat(readdirSync(aof).map((f) => readFileSync(join(aof, f))));
      expect(written.includes(pictures.empty.subarray(0, 64)), 'a frame in the append-only file').toBe(false);
      expectClean(await Promise.all(quiet.map((c) => c.stop(5000))));

      // Objects in view: crossings on every camera, the bay's blue square on cam-0.
      const busy = stream(pictures.clip);
      const crossed = (c: string, s: StateSnapshot) => Object.values(tally(allEvents(s), c, 'gate')).some((n) => n > 0);
      const before = await waitFor(
        'a crossing on every camera and the bay occupied',
        () => readState(site.state.url, site.prefix, SHARDS, job),
        (s) =>
          STATE_SITE_CAMERAS.every((c) => crossed(c, s)) &&
          allEvents(s).some((e) => e.camera === 'cam-0' && e.rule === 'bay' && e.kind === 'zone.enter'),
      );
      const aofPerEvent = { bytes: site.state.aofBytes() - aof1, events: allEvents(before).length };

      // SIGKILL, a second without the state Redis (cameras keep streaming), then the same data directory.
      const killedAt = Date.now();
      await site.state.kill();
      await sleep(1000);
      await site.state.start();
      const upAt = Date.now();
      const after = await readState(site.state.url, site.prefix, SHARDS, job);

      // Acknowledged state is never lost (the kill spares what reached the file; fsync bounds a host crash):
      // the same API rule, revocation, job and schema version; every event once, still in order.
      expect(after.apiRules).toEqual(before.apiRules);
      expect(Object.keys(after.apiRules)).toEqual([JSON.stringify(['cam-0', 'bay'])]);
      expect(after.revoked).toEqual(before.revoked);
      expect(after.revoked).toContain(revoked.tokenId);
      expect(after.job).toEqual(before.job);
      expect(after.job['state']).toBe('queued');
      expect(after.queued).toEqual([job.id]);
      expect(after.schemaVersion).toBe(before.schemaVersion);
      expect(before.schemaVersion).not.toBeNull();
      for (let s = 0; s < SHARDS; s++)
        expect(after.events[s].slice(0, before.events[s].length)).toEqual(before.events[s]);
      // Counts and tracker checkpoints: at least where they were (the events service may have committed since).
      for (const c of STATE_SITE_CAMERAS) {
        const was = JSON.parse(before.counts[c]) as { gate: { in: number; out: number } };
        const now = JSON.parse(after.counts[c]) as { gate: { in: number; out: number } };
        expect(now.gate.in + now.gate.out, c).toBeGreaterThanOrEqual(was.gate.in + was.gate.out);
      }
      for (let s = 0; s < SHARDS; s++) expect(after.checkpoints[s].fields).toEqual(before.checkpoints[s].fields);
      expect(before.checkpoints.flatMap((k) => k.fields)).toEqual(
        expect.arrayContaining(STATE_SITE_CAMERAS.map((c) => `cam:${c}`)),
      );

      // The revoked token is still refused once the edge is back on the state Redis (fail-closed meanwhile).
      await expect.poll(refusal, { timeout: 10_000, interval: 200 }).toEqual({ status: 401, code: 'E_TOKEN_REVOKED' });
      const status = await edge(`/v1/jobs/${job.id}`, { headers: auth });
      expect(((await status.json()) as { state: string }).state).toBe('queued');

      // The events service commits again: an event made after the restart.
      await waitFor(
        'an event committed after the restart',
        () => readState(site.state.url, site.prefix, SHARDS, job),
        (s) => s.events.flat().some(([id]) => Number(id.split('-')[0]) > upAt),
      );
      const books = await Promise.all(busy.map((c) => c.stop(5000)));
      // The frame path never stopped: every frame answered once, with a result, and no camera went quiet.
      expectClean(books);
      const gap = Math.max(...books.map((b) => longestGap(b, killedAt, upAt + 1000)));
      console.log(`longest pause between results while the state Redis was down: ${gap} ms`);
      expect(gap).toBeLessThan(1000);

      // Settled: every event exactly once, and the counts are what the events say.
      await sleep(1500);
      const final = await readState(site.state.url, site.prefix, SHARDS, job);
      const ids = allEvents(final).map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const c of STATE_SITE_CAMERAS) {
        const counts = JSON.parse(final.counts[c]) as { gate: { in: number; out: number } };
        expect({ in: counts.gate.in, out: counts.gate.out }, c).toEqual(tally(allEvents(final), c, 'gate'));
      }
      console.log(
        `state AOF: ${aofPerEvent.bytes} bytes for ${aofPerEvent.events} events ` +
          `(${(aofPerEvent.bytes / aofPerEvent.events).toFixed(0)} bytes per event, checkpoints included)`,
      );
    },
  );
});

/** The longest time a camera went without an answer between `from` and `to`. */
function longestGap(books: Books, from: number, to: number): number {
  const at = books.replies.map((r) => r.at).filter((t) => t >= from - 1000 && t <= to + 1000);
  let gap = 0;
  for (let i = 1; i < at.length; i++) gap = Math.max(gap, at[i] - at[i - 1]);
  return at.length ? gap : Infinity;
}

async function waitFor<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 800)}`);
    await sleep(250);
  }
}

/** Every frame sent got exactly one answer, and every answer was a result. */
function expectClean(books: Books[]): void {
  for (const b of books) {
    expect(b.unanswered).toEqual([]);
    expect(b.duplicates).toEqual([]);
    expect(Object.keys(b.byOutcome)).toEqual(['result']);
  }
}
