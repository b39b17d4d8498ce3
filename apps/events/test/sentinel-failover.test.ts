import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VisionClient, type FrameOutcome, type WebSocketLike } from '@vision/client';
import { processEnv } from '@vision/config';
import { createRedis } from '@vision/redis';
import { appendResults } from '@vision/results-stream';
import type { SiteEvent } from '@vision/events';
import {
  COLORS,
  drawScene,
  LoadClient,
  modelsDir,
  repoRoot,
  sleep,
  startSentinelSite,
  startService,
  uniquePrefix,
  type SentinelSite,
  type ServiceProcess,
} from '@vision/testing';
import { cameras, FPS, FRAMES, movers, oracle, REORDER_MS, rulesSpec, SHARDS } from './failover-site';
import { frames, waitFor } from './harness';

const CAMERAS = 3;
/** The synthetic frame after which the primary is SIGKILLed (3 s into the feed). */
const KILL_AFTER = 30;
/** The events service's successful checkpoint commits so far (its /metrics). */
async function commitsOf(events: ServiceProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${events.metricsPort}/metrics`)).text();
  return Number(/^vision_events_commits_total\{outcome="ok"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

const nodeWebSocket = (url: string, protocols: string[], headers: Record<string, string> | undefined) =>
  new WebSocket(url, protocols, { headers }) as unknown as WebSocketLike;

/**
 * A site on a primary, a replica and three sentinels (down-after-milliseconds 2000): a worker, an
 * edge and the events service all configured with REDIS_SENTINELS. Cameras stream through the edge
 * (SDK clients, and one wire-level camera that keeps books) while results with crossing people are
 * appended for the events service; the primary is SIGKILLed mid-stream. Results resume, every frame
 * gets exactly one answer, the events stream holds what an uninterrupted run makes of the same
 * frames, each event once, and an API rule and a revocation are on the promoted replica.
 */
describe('Sentinel failover: the primary SIGKILLed under load', () => {
  let site: SentinelSite;
  const prefix = uniquePrefix('sentinel');
  const procs: ServiceProcess[] = [];
  let edge: ServiceProcess;
  let events: ServiceProcess;
  let env: Record<string, string>;
  const cams = cameras();

  beforeAll(async () => {
    site = await startSentinelSite({ downAfterMs: 2000, failoverTimeoutMs: 5000 });
    env = { REDIS_SENTINELS: site.sentinelsSetting, REDIS_SENTINEL_NAME: site.name, REDIS_PREFIX: prefix };
    const siteFile = join(mkdtempSync(join(tmpdir(), 'site-')), 'site.json');
    writeFileSync(
      siteFile,
      JSON.stringify({
        models: { synthetic: ['person', 'car'] },
        cameras: Object.fromEntries(cams.map((c) => [c, { model: 'synthetic', rules: rulesSpec }])),
      }),
    );
    const shared = { ...env, RESULTS_SHARDS: String(SHARDS) };
    procs.push(
      (events = await startService('events', {
        ...shared,
        EVENTS_SITE: 'plant',
        EVENTS_SITE_FILE: siteFile,
        EVENTS_REORDER_MS: String(REORDER_MS),
        EVENTS_CHECKPOINT_MS: '200',
        // Longer than the failover: the leases outlive it on the promoted replica, so only resuming
        // from its checkpoints brings back the commits it never got.
        EVENTS_LEASE_MS: '20000',
      })),
      await startService('worker', {
        ...shared,
        MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'),
        INTRA_OP_THREADS: '1',
      }),
      (edge = await startService('edge', shared)),
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await site?.stop();
  });

  it(
    'resumes results, answers every frame once, and keeps events, rules and revocations',
    { timeout: 90_000 },
    async () => {
      // State written through the sentinels before the failover: an API rule and a revocation by the token tool.
      const corner = {
        id: 'corner',
        type: 'zone',
        polygon: [
          [0, 0],
          [0.05, 0],
          [0.05, 0.05],
          [0, 0.05],
        ],
      };
      const put = await fetch(`http://127.0.0.1:${events.port}/v1/events/cameras/${cams[0]}/rules/corner`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(corner),
      });
      expect(put.status).toBe(200);
      await promisify(execFile)(
        process.execPath,
        [join(repoRoot(), 'apps/tools/dist/token.js'), '--revoke', 'jti-failover'],
        {
          env: { PATH: processEnv()['PATH'], ...env },
        },
      );

      const image = await drawScene({
        width: 640,
        height: 480,
        format: 'jpeg',
        rects: [{ x: 320, y: 200, w: 64, h: 64, color: COLORS.green }],
      });
      const url = `ws://127.0.0.1:${edge.port}/ws/detect`;
      const books = new LoadClient({ urls: [url], image, intervalMs: 100, streamId: 'books' });
      books.start();
      const clients = Array.from(
        { length: CAMERAS },
        () => new VisionClient({ url, webSocket: nodeWebSocket, backoff: { initialMs: 200 } }),
      );
      const outcomes: { camera: number; sentAt: number; at: number; outcome: FrameOutcome }[] = [];
      const pending = new Set<Promise<void>>();
      let streaming = true;
      const loops = clients.map(async (client, camera) => {
        while (streaming) {
          const sentAt = Date.now();
          const p = client
            .send(image, { streamId: `cam-${camera}` })
            .then((outcome) => void outcomes.push({ camera, sentAt, at: Date.now(), outcome }));
          pending.add(p);
          void p.finally(() => pending.delete(p));
          await sleep(100);
        }
      });
      await waitFor(
        'results',
        () => outcomes.filter((o) => o.outcome.status === 'result').length,
        (n) => n > 10,
      );

      // The feed's writes wait out the failover (offline queue); each is on the replica before the next,
      // so the kill never lands between a write and its acknowledgement.
      const feeder = createRedis(
        { sentinels: site.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), name: site.name },
        { name: 'test-feed', offlineQueue: true, blocking: true },
      );
      await feeder.connect();
      const oldPrimary = await site.primaryPort();
      let killedAt = 0;
      const streams = new Map(cams.map((c) => [c, frames(c, movers, FRAMES, Date.now(), FPS)]));
      const start = Date.now();
      for (let i = 0; i < FRAMES; i++) {
        await appendResults(
          feeder,
          prefix,
          SHARDS,
          10_000,
          cams.map((c) => streams.get(c)![i]),
        );
        // After the failover the new primary has no replica left to wait for.
        if (!killedAt) expect(Number(await feeder.call('WAIT', '1', '2000'))).toBe(1);
        if (i === KILL_AFTER) {
          // The replica is cut off, the events service commits what it still holds to the primary
          // alone, then the primary dies: those commits are lost with it, as with a lagging replica,
          // and must be made again on the promoted one (same ids, each once).
          const resumeReplica = await site.cutReplica();
          const before = await commitsOf(events);
          // Three commits (every 200 ms) outlast the reorder window: the crossing of frame 28 is among them.
          await waitFor(
            'commits on the primary alone',
            () => commitsOf(events),
            (n) => n >= before + 3,
            1500,
          );
          await site.kill(oldPrimary);
          resumeReplica();
          killedAt = Date.now();
        }
        await sleep(start + (i + 1) * (1000 / FPS) - Date.now());
      }
      const newPrimary = await site.waitForFailover(oldPrimary, 20_000);
      // Results again on every camera after the failover.
      await waitFor(
        'every camera to get results again',
        () =>
          new Set(outcomes.filter((o) => o.sentAt > killedAt && o.outcome.status === 'result').map((o) => o.camera))
            .size,
        (n) => n === CAMERAS,
        20_000,
      );
      streaming = false;
      await Promise.all(loops);
      await Promise.race([Promise.all(pending), sleep(10_000)]);
      const ledger = await books.stop(10_000);
      for (const c of clients) c.close();

      // Every frame answered exactly once: every SDK promise settled; on the wire, nothing unanswered or repeated.
      expect(pending.size).toBe(0);
      expect(ledger.unanswered).toEqual([]);
      expect(ledger.duplicates).toEqual([]);
      expect(ledger.answered).toBe(ledger.sent);
      const firstResult = Math.min(
        ...outcomes.filter((o) => o.sentAt > killedAt && o.outcome.status === 'result').map((o) => o.at),
      );
      const gapErrors = outcomes.filter((o) => o.outcome.status === 'error' && o.at >= killedAt && o.at <= firstResult);
      const recoveryMs = firstResult - killedAt;
      console.log(
        'sentinel failover:',
        JSON.stringify({
          recoveryMs,
          gapErrors: gapErrors.length,
          codes: [...new Set(gapErrors.map((o) => (o.outcome.status === 'error' ? o.outcome.error.code : '')))],
          frames: outcomes.length,
          wire: ledger.byOutcome,
        }),
      );
      expect(recoveryMs).toBeLessThan(15_000);

      // The events stream: exactly what an uninterrupted run makes of the same frames, each event once.
      const onNew = new Redis(newPrimary, '127.0.0.1');
      try {
        expect(((await onNew.call('ROLE')) as string[])[0]).toBe('master');
        const stored = async () => {
          const out: SiteEvent[] = [];
          for (let s = 0; s < SHARDS; s++)
            for (const [, f] of await onNew.xrange(`${prefix}:events:stream:${s}`, '-', '+'))
              out.push(JSON.parse(f[f.indexOf('event') + 1]) as SiteEvent);
          return out;
        };
        const expected = new Map(cams.map((c) => [c, oracle(c, streams.get(c)!)]));
        const total = [...expected.values()].reduce((n, e) => n + e.length, 0);
        expect(total).toBeGreaterThan(30);
        await waitFor('every event on the events stream', stored, (e) => e.length >= total, 20_000);
        await sleep(500);
        const got = await stored();
        for (const c of cams)
          expect(
            got.filter((e) => e.camera === c),
            c,
          ).toEqual(expected.get(c));
        expect(got.length).toBe(total);
        // State on the promoted replica.
        const rule = await onNew.hget(`${prefix}:events:rules`, JSON.stringify([cams[0], 'corner']));
        expect(JSON.parse(rule ?? 'null')).toMatchObject({ id: 'corner', type: 'zone' });
        expect(await onNew.zscore(`${prefix}:revoked`, 'jti-failover')).not.toBeNull();
      } finally {
        onNew.disconnect();
        feeder.disconnect();
      }
      // Each process told of the outage once, not once per connection or retry.
      for (const p of procs) {
        const said = p.logs.filter((l) => l['msg'] === 'redis unreachable').length;
        expect(said, p.role).toBeLessThanOrEqual(1);
      }
    },
  );
});
