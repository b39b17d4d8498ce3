import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  imageFixturesDir,
  LoadClient,
  modelsDir,
  signTestToken,
  startAbuseProcess,
  startRedisSite,
  TEST_JWT_SECRET,
  type RedisSite,
  type Reply,
  sleep,
} from '@vision/testing';

const MEASURE_MS = 12_000;
/**
 * The camera's results and p95 beside the photos ÷ alone: the smallest results ratio of this test's
 * runs in docs/benchmarks.md, "Attacks and fairness", less 0.05, and the largest p95 ratio there,
 * twice over (a p95 of a few tens of milliseconds moves with the host).
 */
const MIN_RESULTS_RATIO = 0.93;
const MAX_P95_RATIO = 4;
const resultsIn = (log: readonly Reply[], from: number, to: number) =>
  log.filter((r) => r.outcome === 'result' && r.sentAt >= from && r.sentAt < to);
const p95 = (replies: readonly Reply[]) => {
  const ms = replies.map((r) => r.at - r.sentAt).sort((a, b) => a - b);
  return ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.95))];
};

/**
 * Fairness by cost, at the default settings: a subject sending valid 40-megapixel photos within its
 * window (8 connections, two frames in flight each) pays for what they cost to decode, so a camera
 * of another subject keeps its rate (`npm run bench:attack -- --attacks costly-frames` repeats it).
 */
describe('fairness by cost: costly frames do not take a camera rate', () => {
  let site: RedisSite;
  let url: string;

  beforeAll(async () => {
    site = await startRedisSite('cost', { env: { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') } });
    await site.start('worker');
    const edge = await site.start('edge', { AUTH_DISABLED: '', JWT_SECRET: TEST_JWT_SECRET });
    url = `ws://127.0.0.1:${edge.port}/ws/detect`;
  });

  afterAll(() => site.stop());

  it(
    'the camera keeps its documented rate and p95 beside 8 connections of 40-megapixel photos',
    { timeout: 90_000 },
    async () => {
      const photoPath = join(imageFixturesDir(), 'chelsea-1280x720.jpg');
      const camera = new LoadClient({
        urls: [url],
        image: readFileSync(join(imageFixturesDir(), 'coffee-1280x720.jpg')),
        intervalMs: 100,
        streamId: 'gate',
        headers: { authorization: `Bearer ${await signTestToken({ sub: 'camera' })}` },
      });
      camera.start();
      await sleep(1000);
      const aloneFrom = Date.now();
      await sleep(MEASURE_MS);
      const aloneTo = Date.now();
      const abuse = await startAbuseProcess({
        url,
        photoPath,
        connections: 8,
        token: await signTestToken({ sub: 'photos' }),
        kinds: ['costly-frames'],
      });
      await sleep(2000);
      const abusedFrom = Date.now();
      await sleep(MEASURE_MS);
      const abusedTo = Date.now();
      const abuser = await abuse.stop();
      const books = await camera.stop(5000);
      const alone = resultsIn(books.replies, aloneFrom, aloneTo);
      const abused = resultsIn(books.replies, abusedFrom, abusedTo);
      const p95Ratio = p95(abused) / p95(alone);
      console.log(
        'fairness by cost:',
        JSON.stringify({
          alone: alone.length,
          abused: abused.length,
          ratio: abused.length / alone.length,
          p95AloneMs: p95(alone),
          p95AbusedMs: p95(abused),
          p95Ratio,
          abuser,
          camera: books.byOutcome,
        }),
      );
      expect(books.unanswered).toEqual([]);
      // The photos were served too (fairly, not at all is not the goal).
      expect(abuser.messagesSent).toBeGreaterThan(8 * 2);
      expect(alone.length).toBeGreaterThan(MEASURE_MS / 100 / 2);
      expect(abused.length).toBeGreaterThanOrEqual(MIN_RESULTS_RATIO * alone.length);
      expect(p95Ratio).toBeLessThanOrEqual(MAX_P95_RATIO);
    },
  );
});
