import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  imageFixturesDir,
  LoadClient,
  modelsDir,
  rssMb,
  startAbuseProcess,
  startRedisSite,
  type RedisSite,
  type Reply,
  type ServiceProcess,
  sleep,
} from '@vision/testing';

const MiB = 1024 * 1024;
const BUDGET_MB = 64;
const FRAME_MB = 8;
/**
 * RSS the edge may add beyond the budget (read buffers of stopped sockets, V8 heap, allocator slack):
 * the largest of the runs in docs/benchmarks.md, "Memory under attack", and a third more.
 */
const OVERHEAD_MB = 64;
/**
 * The camera's results under the attack ÷ alone: the smallest ratio of the runs in
 * docs/benchmarks.md, "Memory under attack", less 0.04 (three frames of the window).
 */
const CAMERA_SHARE = 0.95;
const WINDOW_MS = 8000;
const ATTACK_MS = 16_000;
const IMAGE = join(imageFixturesDir(), 'coffee-1280x720.jpg');
const resultsIn = (log: readonly Reply[], from: number, to: number) =>
  log.filter((r) => r.outcome === 'result' && r.sentAt >= from && r.sentAt < to).length;

/**
 * 64 sockets from 8 loopback addresses, each holding one unfinished message of MAX_FRAME_BYTES and
 * starting another whenever it is cut off (512 MiB offered), against an edge with a 64 MiB
 * MAX_UNFINISHED_BYTES: memory stays within the budget, and a camera beside them keeps its rate.
 */
describe('edge memory under unfinished messages', () => {
  let site: RedisSite;
  let edge: ServiceProcess;
  let url: string;

  beforeAll(async () => {
    site = await startRedisSite('mem', { env: { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') } });
    await site.start('worker');
    edge = await site.start('edge', {
      MAX_UNFINISHED_BYTES: String(BUDGET_MB * MiB),
      MAX_FRAME_BYTES: String(FRAME_MB * MiB),
    });
    url = `ws://127.0.0.1:${edge.port}/ws/detect`;
  });

  afterAll(() => site.stop());

  it(
    'holds edge RSS within MAX_UNFINISHED_BYTES plus overhead, and a camera keeps its documented share of its rate',
    { timeout: 90_000 },
    async () => {
      const camera = new LoadClient({
        urls: [url],
        image: readFileSync(IMAGE),
        intervalMs: 200,
        streamId: 'gate',
      });
      camera.start();
      await sleep(1500);
      const aloneFrom = Date.now();
      let before = 0;
      const baseline = setInterval(() => (before = Math.max(before, rssMb(edge.proc.pid!))), 100);
      await sleep(WINDOW_MS);
      clearInterval(baseline);
      const aloneTo = Date.now();

      // The attackers run in a process of their own, as they would from their own machines: on the
      // camera's event loop, writing their 8 MiB messages would delay the camera's own sends.
      const holders = await startAbuseProcess({
        url,
        photoPath: IMAGE,
        kinds: ['unfinished-fragments'],
        connections: 64,
        fragmentBytes: FRAME_MB * MiB - 1024,
        localAddresses: Array.from({ length: 8 }, (_, i) => `127.0.0.${1 + i}`),
      });
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb(edge.proc.pid!))), 100);
      await sleep(1500);
      const attackFrom = Date.now();
      // Past MESSAGE_TIMEOUT_MS (10 s): the stalled are reaped, and reconnect to stall again.
      await sleep(ATTACK_MS);
      const attackTo = Date.now();
      clearInterval(sampler);
      const { closedByServer: cutOff } = await holders.stop();
      const books = await camera.stop(5000);

      const alone = resultsIn(books.replies, aloneFrom, aloneTo);
      const attacked = resultsIn(books.replies, attackFrom, attackTo);
      console.log(
        'edge memory:',
        JSON.stringify({
          rssBeforeMb: before,
          rssPeakMb: peak,
          growthMb: peak - before,
          budgetMb: BUDGET_MB,
          cutOff,
          alone,
          attacked,
          share: attacked / alone / (ATTACK_MS / WINDOW_MS),
        }),
      );
      // The budget was reached and enforced: connections over their share were stopped.
      expect(edge.logs.some((l) => l['kind'] === 'unfinished-budget')).toBe(true);
      expect(peak - before).toBeLessThanOrEqual(BUDGET_MB + OVERHEAD_MB);
      expect(alone).toBeGreaterThan(0.8 * (WINDOW_MS / 200));
      expect(attacked).toBeGreaterThanOrEqual(CAMERA_SHARE * alone * (ATTACK_MS / WINDOW_MS));
      expect(books.unanswered).toEqual([]);
    },
  );
});
