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
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(xs.length * 0.95) - 1)];
const resultsIn = (log: readonly Reply[], from: number, to: number) =>
  log.filter((r) => r.outcome === 'result' && r.sentAt >= from && r.sentAt < to);

/**
 * One abusive subject (many connections from many addresses: frame floods that ignore the window,
 * decode-heavy images, message floods; reconnecting whenever it is cut off), run in its own
 * process, against one well-behaved camera. The camera must keep its results and its latency.
 */
describe('fairness: one abusive subject does not starve a well-behaved camera', () => {
  let site: RedisSite;
  let url: string;

  beforeAll(async () => {
    site = await startRedisSite('fair', {
      env: { LOG_LEVEL: 'warn', MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') },
    });
    await site.start('worker', { LOG_LEVEL: 'info', INTRA_OP_THREADS: '1' });
    const edge = await site.start('edge', {
      LOG_LEVEL: 'info',
      AUTH_DISABLED: '',
      JWT_SECRET: TEST_JWT_SECRET,
      TRUSTED_PROXIES: '127.0.0.1',
      // The operator's per-subject quotas, set below what the fleet can serve (one CPU worker here).
      SUBJECT_FRAMES_PER_SECOND: '25',
      SUBJECT_BYTES_PER_SECOND: String(4 * 1024 * 1024),
    });
    url = `ws://127.0.0.1:${edge.port}/ws/detect`;
  });

  afterAll(() => site.stop());

  it('the camera keeps >= 90 % of its results and its p95 within 3x of running alone', async () => {
    const photoPath = join(imageFixturesDir(), 'coffee-1280x720.jpg');
    const camera = new LoadClient({
      urls: [url],
      image: readFileSync(photoPath),
      intervalMs: 100,
      streamId: 'gate',
      headers: { authorization: `Bearer ${await signTestToken({ sub: 'camera' })}` },
    });
    camera.start();
    await sleep(1000); // warm-up
    const aloneFrom = Date.now();
    await sleep(MEASURE_MS);
    const aloneTo = Date.now();

    const abuse = await startAbuseProcess({
      url,
      photoPath,
      connections: 4,
      token: await signTestToken({ sub: 'hog' }),
      spoofAddresses: true,
      kinds: ['frame-flood', 'decode-heavy', 'message-flood'],
    });
    await sleep(1000);
    const abusedFrom = Date.now();
    await sleep(MEASURE_MS);
    const abusedTo = Date.now();
    const abuser = await abuse.stop();
    const books = await camera.stop(5000);

    const alone = resultsIn(books.replies, aloneFrom, aloneTo);
    const abused = resultsIn(books.replies, abusedFrom, abusedTo);
    const lat = (rs: Reply[]) => rs.map((r) => r.at - r.sentAt);
    const report = {
      alone: { results: alone.length, p95: p95(lat(alone)) },
      abused: { results: abused.length, p95: p95(lat(abused)) },
      abuser,
      cameraOutcomes: books.byOutcome,
    };
    console.log('fairness:', JSON.stringify(report));
    expect(books.unanswered).toEqual([]);
    expect(alone.length).toBeGreaterThan(MEASURE_MS / 100 / 2);
    expect(abused.length).toBeGreaterThanOrEqual(0.9 * alone.length);
    // The abuser's own process shares the two cores: docs/benchmarks.md#attacks-and-fairness has the
    // measured ratio, and the bound sits a third above its largest.
    expect(report.abused.p95).toBeLessThanOrEqual(3 * report.alone.p95);
    // The abuser really was abusive: cut off and back again.
    expect(abuser.closedByServer).toBeGreaterThan(0);
  });
});
